"""Stage: MAE and MSE of every benchmark for each grid size K in evaluate.sweep (paper Table 2)."""

import sys
from pathlib import Path

from syrac import config, storage
from syrac.evaluation import evaluate_benchmark, scores
from syrac.model import load_probe

if __name__ == "__main__":
    counter_path, features_root, truth_root, metrics_path, plots_dir = map(Path, sys.argv[1:6])
    cfg = config.load_for_stage()
    probe = load_probe(counter_path)
    results = {}
    for name in cfg.benchmarks:
        _, true, predicted = evaluate_benchmark(probe, features_root / f"{name}.npz", truth_root / name,
                                                cfg.evaluate.sweep)
        results[name] = {str(k): {m: v for m, v in scores(predicted[k], true).items() if m != "spearman"}
                         for k in cfg.evaluate.sweep}
        storage.write_csv(plots_dir / f"{name}.csv", ["patches", "mae", "mse"],
                          [[k, round(results[name][str(k)]["mae"], 2), round(results[name][str(k)]["mse"], 2)]
                           for k in cfg.evaluate.sweep])
        print(name, "  ".join(f"K={k}: MAE {results[name][str(k)]['mae']:.1f}" for k in cfg.evaluate.sweep))
    storage.write_json(metrics_path, results)
