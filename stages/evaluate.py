"""Stage: count every benchmark image with its KxK patches (choose_patches), and on its own tiling
(the rule the counter file stores); MAE, MSE (root), Spearman on the test split, and the same on
the development part of the training split (the read-out levers are adopted on)."""


import numpy as np

from syrac import config, storage
from syrac.data.counting import read_labels
from syrac.inference.evaluation import read_grids, read_split, scores, true_counts
from syrac.inference.tiling import TilingRule
from syrac.method.model import load_probe

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "features_root", "development_root", "truth_root", "train_truth_root",
                              "labels_path", "grids_path", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    probe, grids = load_probe(args.counter_path), read_grids(args.grids_path)
    rule = TilingRule.from_counter(args.counter_path)
    # Reference points, one constant answer for every image: the mean of the noisy training labels
    # (label-free), and the mean true count of the benchmark's training split (it needs labels).
    label_mean = float(read_labels(args.labels_path)[1].mean())
    results = {}
    for name in cfg.benchmarks:
        test = read_split(probe, args.features_root / f"{name}.npz", args.truth_root / name, grids[name], rule)
        development = read_split(probe, args.development_root / f"{name}.npz", args.train_truth_root / name, grids[name], rule)
        train_names = [p.name for p in sorted((args.train_truth_root / name).glob("*.json"))]
        train_mean = float(true_counts(args.train_truth_root / name, train_names).mean())
        constants = (("mean_label", label_mean), ("train_mean", train_mean))
        constant = {f"{which}_baseline_{metric}": scores(np.full_like(test.true, value), test.true)[metric]
                    for which, value in constants for metric in ("mae", "mse")}
        results[name] = {**test.summary(rule.grids), **constant, "train_mean_count": train_mean,
                         "development": development.summary(rule.grids)}
        storage.write_csv(args.plots_dir / f"{name}.csv", ["image", "true_count", "predicted_count", "tiled_count", "tiling"],
                          [[i, int(t), round(float(p), 2), round(float(c), 2), d]
                           for i, t, p, c, d in zip(test.images, test.true, test.at_k, test.tiled, test.tilings)])
        dev = results[name]["development"]
        print(f"{name}: MAE {results[name]['mae']:.1f}  MSE {results[name]['mse']:.1f}  "
              f"Spearman {results[name]['spearman']:.3f}  (mean-label MAE {results[name]['mean_label_baseline_mae']:.1f}); "
              f"own tiling MAE {results[name]['tiling']['mae']:.1f}, finest grid per image "
              f"{results[name]['tiling']['finest_grid']}; development part ({dev['n_images']} training images): "
              f"MAE {dev['mae']:.1f}, own tiling {dev['tiling']['mae']:.1f}")
    storage.write_json(args.metrics_path, results)
