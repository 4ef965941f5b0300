"""Stage: count every benchmark image with its KxK patches (choose_patches), and on its own tiling
(the rule the counter file stores); MAE, MSE (root), Spearman on the test split, and the same on
the development part of the training split (the read-out levers are adopted on). Each split's
per-image counts go to the plots folder (``prediction_file``): a seed ensemble is scored from them."""

from syrac import config, storage
from syrac.inference.evaluation import benchmark_report, prediction_file, read_grids, write_predictions
from syrac.inference.tiling import TilingRule
from syrac.method.counter import load_probe
from syrac.synthetic.counting import read_labels

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "features_root", "development_root", "truth_root", "train_truth_root",
                              "labels_path", "grids_path", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    probe, grids = load_probe(args.counter_path), read_grids(args.grids_path)
    rule = TilingRule.from_counter(args.counter_path)
    label_mean = float(read_labels(args.labels_path)[1].mean())
    results = {}
    for name in cfg.benchmarks:
        results[name], readings = benchmark_report(probe, rule, grids[name], args.features_root / f"{name}.npz",
                                               args.development_root / f"{name}.npz", args.truth_root / name,
                                               args.train_truth_root / name, label_mean)
        for split, reading in readings.items():
            write_predictions(prediction_file(args.plots_dir, name, split), reading)
        r, dev = results[name], results[name]["development"]
        print(f"{name}: MAE {r['mae']:.1f}  MSE {r['mse']:.1f}  Spearman {r['spearman']:.3f}  (mean-label MAE "
              f"{r['mean_label_baseline_mae']:.1f}); own tiling MAE {r['tiling']['mae']:.1f}, finest grid per image "
              f"{r['tiling']['finest_grid']}; development part ({dev['n_images']} training images): "
              f"MAE {dev['mae']:.1f}, own tiling {dev['tiling']['mae']:.1f}")
    storage.write_json(args.metrics_path, results)
