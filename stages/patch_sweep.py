"""Stage: MAE, MSE and Spearman of every benchmark for each grid size K in evaluate.sweep (paper
Table 2), with every image's prediction at every K, so any K can be read out afterwards."""

import sys
from pathlib import Path

from syrac import config, storage
from syrac.evaluation import evaluate_benchmark, scores
from syrac.model import load_probe

if __name__ == "__main__":
    counter_path, features_root, truth_root, metrics_path, plots_dir, predictions_dir = map(Path, sys.argv[1:7])
    cfg = config.load_for_stage()
    probe = load_probe(counter_path)
    results = {}
    for name in cfg.benchmarks:
        images, true, predicted = evaluate_benchmark(probe, features_root / f"{name}.npz", truth_root / name,
                                                     cfg.evaluate.sweep)
        results[name] = {str(k): scores(predicted[k], true) for k in cfg.evaluate.sweep}
        storage.write_csv(plots_dir / f"{name}.csv", ["patches", "mae", "mse"],
                          [[k, round(results[name][str(k)]["mae"], 2), round(results[name][str(k)]["mse"], 2)]
                           for k in cfg.evaluate.sweep])
        storage.write_csv(predictions_dir / f"{name}.csv", ["image", "true_count"] + [f"k{k}" for k in cfg.evaluate.sweep],
                          [[image, int(t)] + [round(float(predicted[k][i]), 2) for k in cfg.evaluate.sweep]
                           for i, (image, t) in enumerate(zip(images, true))])
        print(name, "  ".join(f"K={k}: MAE {results[name][str(k)]['mae']:.1f} Spearman {results[name][str(k)]['spearman']:.3f}"
                              for k in cfg.evaluate.sweep))
    storage.write_json(metrics_path, results)
