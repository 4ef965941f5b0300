"""Stage (review questions 4 and 5): other read-outs of SYRAC's frozen features, each fitted on the
noisy counting set and counted with the same KxK patches: the ridge probe on labels re-ordered by
the rank head within each prompt, a classifier over the prompted counts, and the rank head itself
calibrated to the labels by a scale and an offset."""

import sys
from pathlib import Path

import numpy as np
import torch

from syrac import config, review, storage
from syrac.evaluation import load_features, read_grids, scores, true_counts
from syrac.model import probe_from_bundle
from syrac.probe import fit_probe

if __name__ == "__main__":
    (counter_path, counting_features, labels_path, counting_truth, features_root, truth_root, grids_path,
     metrics_path) = map(Path, sys.argv[1:9])
    cfg = config.load_for_stage()
    bundle = torch.load(counter_path, map_location="cpu", weights_only=True)
    names, cached = load_features(counting_features)
    prompted_of = {r["image"]: float(r["prompted_count"]) for r in storage.read_csv(labels_path)}
    features, prompted = cached["features"], np.array([prompted_of[n] for n in names])
    weight, bias = bundle["state_dict"]["head.weight"].float().numpy()[0], float(bundle["state_dict"]["head.bias"])
    refined = review.refine_labels(prompted, features @ weight + bias, cfg.review.refined_label_cv)
    p = cfg.probe
    readouts = {"regression": probe_from_bundle(bundle),
                "refined_labels": fit_probe(features, refined, p.ridge_grid, p.folds, cfg.seed)[0],
                "classification": review.fit_classifier(features, prompted, p.ridge_grid, p.folds, cfg.seed)[0],
                "rank_head": review.RankHeadProbe(weight, bias, features, prompted, p.ridge_grid, p.folds, cfg.seed)}
    grids, results = read_grids(grids_path), {}
    for name in cfg.benchmarks:
        images, patches = load_features(features_root / f"{name}.npz")
        true = true_counts(truth_root / name, images)
        results[name] = {readout: scores(model.image_counts(patches[f"k{grids[name]}"]), true)
                         for readout, model in readouts.items()}
        print(name, {r: round(v["mae"], 1) for r, v in results[name].items()})
    truth_rows = storage.read_csv(counting_truth / "counting.csv")
    if all(r["true_count"] != "" for r in truth_rows):  # simulated counting set: how close each label set is to the truth
        true_of = {r["image"]: float(r["true_count"]) for r in truth_rows}
        true = np.array([true_of[n] for n in names])
        results["counting_set_labels"] = {"prompted": scores(prompted, true), "refined": scores(refined, true)}
    storage.write_json(metrics_path, results)
