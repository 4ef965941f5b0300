"""Stage (review questions 4 and 5, and the read-out levers): read-outs of SYRAC's frozen features,
each fitted on the noisy counting set: the ridge probe and the authors' non-negative,
intercept-free one, each on the prompted counts and on those re-ordered by the rank head within
each prompt; a classifier over the prompted counts; the rank head calibrated by a scale and an
offset. Each counts at the benchmark's K and on its own tiling (its own ceiling), on the test split
and on the development part of the training split (the read-out levers are adopted on)."""


import numpy as np

from syrac import config, storage
from syrac.inference.evaluation import load_features, read_grids, read_split, scores
from syrac.inference.tiling import ceiling_of, configured_rule
from syrac.method.model import read_model_file
from syrac.method.probe import rank_head_weights, refine_labels
from syrac.method.readouts import READOUTS, fit_probe
from syrac.studies import review
from syrac.synthetic.counting import prompted_for

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "counting_features", "labels_path", "counting_truth", "features_root",
                              "development_root", "truth_root", "train_truth_root", "grids_path", "metrics_path")
    cfg = config.load_for_stage()
    p = cfg.probe
    names, cached = load_features(args.counting_features)
    features, prompted = cached["features"], prompted_for(args.labels_path, names)
    weight, bias = rank_head_weights(read_model_file(args.counter_path)["state_dict"])
    refined = refine_labels(prompted, features @ weight + bias, p.refined_label_cv)
    readouts = {f"{form}_{labels}": fit_probe(features, targets, p.ridge_grid, p.folds, cfg.seed, form)[0]
                for form in READOUTS for labels, targets in (("prompted", prompted), ("rank_refined", refined))}
    readouts["classification"] = review.fit_classifier(features, prompted, p.ridge_grid, p.folds, cfg.seed)[0]
    readouts["rank_head"] = review.RankHeadProbe(weight, bias, features, prompted, p.ridge_grid, p.folds, cfg.seed)
    rules = {r: configured_rule(cfg, ceiling_of(model, features, prompted))
             for r, model in readouts.items()}
    grids, results = read_grids(args.grids_path), {"test": {}, "development": {}}
    for split, root, truth in (("test", args.features_root, args.truth_root),
                               ("development", args.development_root, args.train_truth_root)):
        for name in cfg.benchmarks:
            results[split][name] = {r: read_split(model, root / f"{name}.npz", truth / name, grids[name], rules[r])
                                    .summary(rules[r].grids) for r, model in readouts.items()}
            print(
                split,
                name,
                {r: (round(v["mae"], 1), round(v["tiling"]["mae"], 1)) for r, v in results[split][name].items()},
            )
    truth_rows = storage.read_csv(args.counting_truth / "counting.csv")
    if all(
        r["true_count"] != "" for r in truth_rows
    ):  # simulated counting set: how close each label set is to the truth
        true_of = {r["image"]: float(r["true_count"]) for r in truth_rows}
        true = np.array([true_of[n] for n in names])
        results["counting_set_labels"] = {"prompted": scores(prompted, true), "refined": scores(refined, true)}
    storage.write_json(args.metrics_path, results)
