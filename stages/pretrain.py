"""Stage: Siamese rank pre-training on the synthetic pairs (and nested crops of any unlabelled
photos declared), logged with DVCLive; the model file also carries the envelope of what it was
trained on, which `syrac count` holds each image against."""

import sys
from pathlib import Path

from dvclive import Live

from syrac import config, storage
from syrac.model import save_rank_model
from syrac.pretrain import load_pairs, photo_pairs, pretrain, training_envelope

if __name__ == "__main__":
    pairs_dir, model_path, metrics_path, live_dir, checkpoint = map(Path, sys.argv[1:6])
    cfg = config.load_for_stage()
    pairs = load_pairs(pairs_dir, cfg.model.input_size)
    with Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None) as live:
        def log(epoch, figures):
            for name, value in figures.items():
                live.log_metric(name, value)
            live.next_step()

        photos = photo_pairs(cfg)
        model, summary = pretrain(cfg, pairs, log, checkpoint, photos)
    envelope = training_envelope(model, pairs, photos, cfg.seed)
    save_rank_model(model_path, model, cfg.model.backbone, cfg.model.input_size,
                    {"best_epoch": summary["best_epoch"], "envelope": envelope.to_bundle()})
    storage.write_json(metrics_path, {**summary, "envelope": envelope.summary()})
    print(f"best held-out ranking accuracy {summary['holdout_ranking_accuracy']:.3f} at epoch {summary['best_epoch']}")
