"""Stage: fit the linear probe (params probe.form) on the noisy counting set (its prompted counts, or
those re-ordered by the rank head: probe.labels), and with probe.consistency_weight on the unlabelled
photos' self-consistency too; save the self-contained counter."""


import numpy as np
import torch

from syrac import config, storage
from syrac.inference.tiling import FINEST, TilingRule, ceiling_of
from syrac.method.model import save_counter
from syrac.method.probe import fit_probe, photo_consistency, probe_targets, rank_head_weights

if __name__ == "__main__":
    args = config.stage_paths("rank_path", "features_path", "photos_features", "labels_path", "counter_path", "metrics_path")
    cfg = config.load_for_stage()
    labels = {r["image"]: float(r["prompted_count"]) for r in storage.read_csv(args.labels_path)}
    with np.load(args.features_path) as data:
        features, prompted = data["features"], np.array([labels[str(n)] for n in data["images"]])
    rank = torch.load(args.rank_path, map_location="cpu", weights_only=True)
    weight, bias = rank_head_weights(rank["state_dict"])
    targets = probe_targets(cfg.probe, prompted, features @ weight + bias)
    consistency = photo_consistency(args.photos_features, cfg.probe.consistency_weight) if cfg.probe.consistency_weight else None
    probe, report = fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, cfg.probe.form, consistency)
    tiling = TilingRule(ceiling_of(probe, features, prompted), FINEST)
    save_counter(args.counter_path, {**rank, "tiling": tiling.to_bundle()}, probe)
    storage.write_json(args.metrics_path, {**report, "tiling": tiling.to_bundle()})
    print(f"{report['form']} probe (penalty {report['alpha']}): cross-validated RMSE on noisy labels {report['cv_rmse_noisy_labels']:.1f}; "
          f"tiling splits a region counted above {tiling.ceiling:.1f}, down to the {tiling.finest}x{tiling.finest} grid")
