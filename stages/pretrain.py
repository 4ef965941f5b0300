"""Stage: Siamese rank pre-training on the synthetic pairs (and nested crops of any unlabelled
photos declared, and the scale relations where pretrain.scale_relations > 0), logged with DVCLive;
the model file also carries the envelope of what it was trained on, which `syrac count` holds each
image against."""


from dvclive import Live

from syrac import config, storage
from syrac.method.model import machine, save_rank_model
from syrac.method.pretrain import load_pairs, photo_pairs, pretrain, relation_images, training_envelope

if __name__ == "__main__":
    args = config.stage_paths("pairs_dir", "people_dir", "model_path", "metrics_path", "live_dir", "checkpoint")
    cfg = config.load_for_stage()
    pairs = load_pairs(args.pairs_dir, cfg.model.input_size)
    with Live(dir=str(args.live_dir), save_dvc_exp=False, dvcyaml=None) as live:
        def log(epoch, figures):
            for name, value in figures.items():
                live.log_metric(name, value)
            live.next_step()

        photos = photo_pairs(cfg, args.people_dir)
        model, summary = pretrain(cfg, pairs, log, args.checkpoint, photos, relation_images(cfg, args.pairs_dir))
    envelope = training_envelope(model, pairs, photos, cfg.seed)
    save_rank_model(args.model_path, model, cfg.model.backbone, cfg.model.input_size,
                    {"best_epoch": summary["best_epoch"], "envelope": envelope.to_bundle()})
    storage.write_json(args.metrics_path, {**summary, "envelope": envelope.summary(), "machine": machine()})
    print(f"best held-out ranking accuracy {summary['holdout_ranking_accuracy']:.3f} at epoch {summary['best_epoch']}")
