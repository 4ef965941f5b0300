"""Stage (ablation): "no pre-training", the network trained end to end on the noisy counting set;
given a rank model (--start-path), that network fine-tuned whole the same way instead
(stage fine_tune: the review's "frozen or fine-tuned?")."""


from syrac import config, storage
from syrac.method.features import load_resized
from syrac.method.model import load_rank_model, save_rank_model
from syrac.studies.ablation import train_end_to_end
from syrac.synthetic.counting import LABELS, read_labels

if __name__ == "__main__":
    args = config.stage_paths("counting_dir", "model_path", "metrics_path", optional=("start_path",))
    cfg = config.load_for_stage()
    names, targets = read_labels(args.counting_dir / LABELS)
    images = load_resized([args.counting_dir / name for name in names], cfg.model.input_size, "decode counting set")
    start = load_rank_model(args.start_path)[0] if args.start_path else None
    model, summary = train_end_to_end(cfg, images, targets, cfg.ablation.end_to_end_epochs, start)
    save_rank_model(args.model_path, model, cfg.model.backbone, cfg.model.input_size, {})
    storage.write_json(args.metrics_path, summary)
    kind = "fine-tuned" if start else "end to end"
    print(f"{kind}: training RMSE on the noisy labels {summary['train_rmse_noisy_labels']:.1f}")
