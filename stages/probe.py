"""Stage: fit the linear probe on the noisy counting set; save the self-contained counter."""

import sys
from pathlib import Path

import numpy as np
import torch

from syrac import config, storage
from syrac.model import save_counter
from syrac.probe import fit_probe

if __name__ == "__main__":
    rank_path, features_path, labels_path, counter_path, metrics_path = map(Path, sys.argv[1:6])
    cfg = config.load_for_stage()
    labels = {r["image"]: float(r["prompted_count"]) for r in storage.read_csv(labels_path)}
    with np.load(features_path) as data:
        features, targets = data["features"], np.array([labels[str(n)] for n in data["images"]])
    probe, report = fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed)
    save_counter(counter_path, torch.load(rank_path, map_location="cpu", weights_only=True), probe)
    storage.write_json(metrics_path, report)
    print(f"ridge alpha {report['alpha']}: cross-validated RMSE on noisy labels {report['cv_rmse_noisy_labels']:.1f}")
