"""Stage: count every benchmark image with its KxK patches (evaluate.patches); MAE, MSE (root), Spearman."""

import sys
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.evaluation import evaluate_benchmark, scores
from syrac.model import load_probe

if __name__ == "__main__":
    counter_path, features_root, truth_root, labels_path, metrics_path, plots_dir = map(Path, sys.argv[1:7])
    cfg = config.load_for_stage()
    probe = load_probe(counter_path)
    # Reference point: always answering the mean of the noisy training labels.
    label_mean = float(np.mean([float(r["prompted_count"]) for r in storage.read_csv(labels_path)]))
    results = {}
    for name in cfg.benchmarks:
        k = cfg.evaluate.patches[name]
        images, true, predicted = evaluate_benchmark(probe, features_root / f"{name}.npz", truth_root / name, (k,))
        results[name] = {**scores(predicted[k], true), "n_images": len(images), "patches": k,
                         "mean_label_baseline_mae": float(np.abs(true - label_mean).mean())}
        storage.write_csv(plots_dir / f"{name}.csv", ["image", "true_count", "predicted_count"],
                          [[i, int(t), round(float(p), 2)] for i, t, p in zip(images, true, predicted[k])])
        print(f"{name}: MAE {results[name]['mae']:.1f}  MSE {results[name]['mse']:.1f}  "
              f"Spearman {results[name]['spearman']:.3f}  (mean-label MAE {results[name]['mean_label_baseline_mae']:.1f})")
    storage.write_json(metrics_path, results)
