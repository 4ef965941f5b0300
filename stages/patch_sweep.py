"""Stage: MAE, MSE and Spearman of every benchmark for each grid size K in evaluate.sweep (paper
Table 2), with every image's prediction at every K, so any K can be read out afterwards."""


from syrac import config, storage
from syrac.inference.evaluation import evaluate_benchmark, scores
from syrac.method.counter import load_probe

if __name__ == "__main__":
    args = config.stage_paths(
        "counter_path", "features_root", "truth_root", "metrics_path", "plots_dir", "predictions_dir"
    )
    cfg = config.load_for_stage()
    probe = load_probe(args.counter_path)
    results = {}
    for name in cfg.benchmarks:
        images, true, predicted = evaluate_benchmark(probe, args.features_root / f"{name}.npz", args.truth_root / name,
                                                     cfg.evaluate.sweep)
        results[name] = {str(k): scores(predicted[k], true) for k in cfg.evaluate.sweep}
        storage.write_csv(args.plots_dir / f"{name}.csv", ["patches", "mae", "mse"],
                          [[k, round(results[name][str(k)]["mae"], 2), round(results[name][str(k)]["mse"], 2)]
                           for k in cfg.evaluate.sweep])
        storage.write_csv(
            args.predictions_dir / f"{name}.csv",
            ["image", "true_count"] + [f"k{k}" for k in cfg.evaluate.sweep],
            [
                [image, int(t)] + [round(float(predicted[k][i]), 2) for k in cfg.evaluate.sweep]
                for i, (image, t) in enumerate(zip(images, true))
            ],
        )
        print(
            name,
            "  ".join(
                f"K={k}: MAE {results[name][str(k)]['mae']:.1f} Spearman {results[name][str(k)]['spearman']:.3f}"
                for k in cfg.evaluate.sweep
            ),
        )
    storage.write_json(args.metrics_path, results)
