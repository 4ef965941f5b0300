"""Stage: count every benchmark image with its KxK patches (choose_patches); MAE, MSE (root), Spearman."""

import sys
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.evaluation import evaluate_benchmark, read_grids, scores, true_counts
from syrac.model import load_probe

if __name__ == "__main__":
    (counter_path, features_root, truth_root, train_truth_root, labels_path, grids_path, metrics_path,
     plots_dir) = map(Path, sys.argv[1:9])
    cfg = config.load_for_stage()
    probe, grids = load_probe(counter_path), read_grids(grids_path)
    # Reference points, one constant answer for every image: the mean of the noisy training labels
    # (label-free), and the mean true count of the benchmark's training split (it needs labels).
    label_mean = float(np.mean([float(r["prompted_count"]) for r in storage.read_csv(labels_path)]))
    results = {}
    for name in cfg.benchmarks:
        k = grids[name]
        images, true, predicted = evaluate_benchmark(probe, features_root / f"{name}.npz", truth_root / name, (k,))
        train_names = [p.name for p in sorted((train_truth_root / name).glob("*.json"))]
        train_mean = float(true_counts(train_truth_root / name, train_names).mean())
        constants = (("mean_label", label_mean), ("train_mean", train_mean))
        constant = {f"{which}_baseline_{metric}": scores(np.full_like(true, value), true)[metric]
                    for which, value in constants for metric in ("mae", "mse")}
        results[name] = {**scores(predicted[k], true), "n_images": len(images), "patches": k, **constant,
                         "train_mean_count": train_mean}
        storage.write_csv(plots_dir / f"{name}.csv", ["image", "true_count", "predicted_count"],
                          [[i, int(t), round(float(p), 2)] for i, t, p in zip(images, true, predicted[k])])
        print(f"{name}: MAE {results[name]['mae']:.1f}  MSE {results[name]['mse']:.1f}  "
              f"Spearman {results[name]['spearman']:.3f}  (mean-label MAE {results[name]['mean_label_baseline_mae']:.1f})")
    storage.write_json(metrics_path, results)
