"""Stage: fit the linear probe on the noisy counting set (its prompted counts, or those re-ordered
by the rank head: params probe.labels); save the self-contained counter."""

import sys
from pathlib import Path

import numpy as np
import torch

from syrac import config, storage
from syrac.model import save_counter
from syrac.probe import fit_probe, probe_targets, rank_head_weights

if __name__ == "__main__":
    rank_path, features_path, labels_path, counter_path, metrics_path = map(Path, sys.argv[1:6])
    cfg = config.load_for_stage()
    labels = {r["image"]: float(r["prompted_count"]) for r in storage.read_csv(labels_path)}
    with np.load(features_path) as data:
        features, targets = data["features"], np.array([labels[str(n)] for n in data["images"]])
    rank = torch.load(rank_path, map_location="cpu", weights_only=True)
    weight, bias = rank_head_weights(rank["state_dict"])
    targets = probe_targets(cfg.probe, targets, features @ weight + bias)
    probe, report = fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed)
    save_counter(counter_path, rank, probe)
    storage.write_json(metrics_path, report)
    print(f"ridge alpha {report['alpha']}: cross-validated RMSE on noisy labels {report['cv_rmse_noisy_labels']:.1f}")
