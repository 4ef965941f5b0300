"""Stage (review questions 4 and 5): read-outs of SYRAC's frozen features, each fitted on the noisy
counting set and counted with the same KxK patches: the ridge probe on the prompted counts and on
those re-ordered by the rank head within each prompt, a classifier over the prompted counts, and
the rank head itself calibrated by a scale and an offset. Scored on each benchmark's test split
and, as a development read-out, on its labelled training split."""


import numpy as np
import torch

from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.inference.evaluation import load_features, read_grids, scores, true_counts
from syrac.method.features import extract
from syrac.method.model import compute_device, load_rank_model, to_device
from syrac.method.probe import fit_probe, rank_head_weights, refine_labels
from syrac.studies import review

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "counting_features", "labels_path", "counting_truth", "features_root", "truth_root", "train_root", "train_truth_root", "grids_path", "metrics_path")
    cfg = config.load_for_stage()
    p = cfg.probe
    names, cached = load_features(args.counting_features)
    prompted_of = {r["image"]: float(r["prompted_count"]) for r in storage.read_csv(args.labels_path)}
    features, prompted = cached["features"], np.array([prompted_of[n] for n in names])
    weight, bias = rank_head_weights(torch.load(args.counter_path, map_location="cpu", weights_only=True)["state_dict"])
    refined = refine_labels(prompted, features @ weight + bias, p.refined_label_cv)
    readouts = {"prompted_labels": fit_probe(features, prompted, p.ridge_grid, p.folds, cfg.seed)[0],
                "refined_labels": fit_probe(features, refined, p.ridge_grid, p.folds, cfg.seed)[0],
                "classification": review.fit_classifier(features, prompted, p.ridge_grid, p.folds, cfg.seed)[0],
                "rank_head": review.RankHeadProbe(weight, bias, features, prompted, p.ridge_grid, p.folds, cfg.seed)}
    encoder = to_device(load_rank_model(args.counter_path)[0], compute_device())
    grids, results = read_grids(args.grids_path), {"test": {}, "train_split": {}}
    for name in cfg.benchmarks:
        k = grids[name]
        images, patches = load_features(args.features_root / f"{name}.npz")
        true = true_counts(args.truth_root / name, images)
        results["test"][name] = {r: scores(model.image_counts(patches[f"k{k}"]), true) for r, model in readouts.items()}
        train_names, train_paths = read_manifest(args.train_root / name)
        train_patches = extract(encoder, train_paths, (k,), cfg.model.input_size, f"{name} train")[f"k{k}"]
        train_true = true_counts(args.train_truth_root / name, train_names)
        results["train_split"][name] = {r: scores(model.image_counts(train_patches), train_true)
                                        for r, model in readouts.items()}
        print(name, {r: round(v["mae"], 1) for r, v in results["test"][name].items()})
    truth_rows = storage.read_csv(args.counting_truth / "counting.csv")
    if all(r["true_count"] != "" for r in truth_rows):  # simulated counting set: how close each label set is to the truth
        true_of = {r["image"]: float(r["true_count"]) for r in truth_rows}
        true = np.array([true_of[n] for n in names])
        results["counting_set_labels"] = {"prompted": scores(prompted, true), "refined": scores(refined, true)}
    storage.write_json(args.metrics_path, results)
