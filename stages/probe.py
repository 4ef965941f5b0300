"""Stage: fit the linear probe (params probe.form) on the noisy counting set (its prompted counts, or
those re-ordered by the rank head: probe.labels); save the self-contained counter."""


import numpy as np

from syrac import config, storage
from syrac.inference.tiling import ceiling_of, configured_rule
from syrac.method.counter import provenance, save_counter
from syrac.method.model import read_model_file
from syrac.method.probe import probe_targets, rank_head_weights
from syrac.method.readouts import fit_probe
from syrac.synthetic.counting import prompted_for

if __name__ == "__main__":
    args = config.stage_paths("rank_path", "features_path", "labels_path", "counter_path", "metrics_path")
    cfg = config.load_for_stage()
    with np.load(args.features_path) as data:
        features, prompted = data["features"], prompted_for(args.labels_path, data["images"])
    rank = read_model_file(args.rank_path)
    weight, bias = rank_head_weights(rank["state_dict"])
    targets = probe_targets(cfg.probe, prompted, features @ weight + bias)
    probe, report = fit_probe(features, targets, cfg.probe.ridge_grid, cfg.probe.folds, cfg.seed, cfg.probe.form)
    tiling = configured_rule(cfg, ceiling_of(probe, features, prompted))
    save_counter(args.counter_path, {**rank, "tiling": tiling.to_bundle(),
                                     "provenance": {"name": str(args.counter_path), **provenance(cfg)}}, probe)
    storage.write_json(args.metrics_path, {**report, "tiling": tiling.to_bundle()})
    print(
        f"{report['form']} probe (penalty {report['alpha']}): cross-validated RMSE on noisy labels "
        f"{report['cv_rmse_noisy_labels']:.1f}; "
        f"tiling splits a region counted above {tiling.ceiling:.1f}, down to the {tiling.finest}x{tiling.finest} grid"
    )
