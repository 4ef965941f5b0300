"""Stage: count every benchmark image with its KxK patches (choose_patches), and on its own tiling
(the rule the counter file stores); MAE, MSE (root), Spearman on the test split, and the same on
the development part of the training split (the read-out levers are adopted on)."""

from syrac import config, storage
from syrac.data.counting import read_labels
from syrac.inference.evaluation import benchmark_report, read_grids
from syrac.inference.tiling import TilingRule
from syrac.method.model import load_probe

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "features_root", "development_root", "truth_root", "train_truth_root",
                              "labels_path", "grids_path", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    probe, grids = load_probe(args.counter_path), read_grids(args.grids_path)
    rule = TilingRule.from_counter(args.counter_path)
    label_mean = float(read_labels(args.labels_path)[1].mean())
    results = {}
    for name in cfg.benchmarks:
        results[name], test = benchmark_report(probe, rule, grids[name], args.features_root / f"{name}.npz",
                                               args.development_root / f"{name}.npz", args.truth_root / name,
                                               args.train_truth_root / name, label_mean)
        storage.write_csv(args.plots_dir / f"{name}.csv", ["image", "true_count", "predicted_count", "tiled_count", "tiling"],
                          [[i, int(t), round(float(p), 2), round(float(c), 2), d]
                           for i, t, p, c, d in zip(test.images, test.true, test.at_k, test.tiled, test.tilings)])
        r, dev = results[name], results[name]["development"]
        print(f"{name}: MAE {r['mae']:.1f}  MSE {r['mse']:.1f}  Spearman {r['spearman']:.3f}  (mean-label MAE "
              f"{r['mean_label_baseline_mae']:.1f}); own tiling MAE {r['tiling']['mae']:.1f}, finest grid per image "
              f"{r['tiling']['finest_grid']}; development part ({dev['n_images']} training images): "
              f"MAE {dev['mae']:.1f}, own tiling {dev['tiling']['mae']:.1f}")
    storage.write_json(args.metrics_path, results)
