"""Stage (ablation): "no pre-training", the network trained end to end on the noisy counting set;
given a rank model as a fourth argument, that network fine-tuned whole the same way instead
(stage fine_tune: the review's "frozen or fine-tuned?")."""

import sys
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.ablation import train_end_to_end
from syrac.features import load_resized
from syrac.model import load_rank_model, save_rank_model

if __name__ == "__main__":
    counting_dir, model_path, metrics_path, *start_path = map(Path, sys.argv[1:5])
    cfg = config.load_for_stage()
    labels = storage.read_csv(counting_dir / "labels.csv")
    images = load_resized([counting_dir / r["image"] for r in labels], cfg.model.input_size, "decode counting set")
    targets = np.array([float(r["prompted_count"]) for r in labels])
    start = load_rank_model(start_path[0])[0] if start_path else None
    model, summary = train_end_to_end(cfg, images, targets, cfg.ablation.end_to_end_epochs, start)
    save_rank_model(model_path, model, cfg.model.backbone, cfg.model.input_size, {})
    storage.write_json(metrics_path, summary)
    print(f"{'fine-tuned' if start else 'end to end'}: training RMSE on the noisy labels {summary['train_rmse_noisy_labels']:.1f}")
