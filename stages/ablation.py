"""Stage: the pre-training ablation (paper Table 3), every strategy through the same probe (the
paper's: fitted on the prompted counts) and KxK patch inference on every benchmark, plus SYRAC
fine-tuned whole on the noisy counts (the review's question 3) and the adopted counter with its own
probe (params probe); the supervised oracle is labelled as using labels."""

from syrac import config, storage
from syrac.figures import grouped_bars
from syrac.inference.evaluation import read_grids
from syrac.studies.table3 import pretraining_ablation

if __name__ == "__main__":
    args = config.stage_paths(
        "rank_path",
        "counter_path",
        "intra_path",
        "end_to_end_path",
        "fine_tuned_path",
        "counting_dir",
        "bench_root",
        "counting_features",
        "bench_features",
        "train_root",
        "truth_root",
        "train_truth_root",
        "grids_path",
        "encoder_features",
        "metrics_path",
        "plots_dir",
    )
    cfg = config.load_for_stage()
    models = {"rank": args.rank_path, "counter": args.counter_path, "intra": args.intra_path,
              "end_to_end": args.end_to_end_path, "fine_tuned": args.fine_tuned_path}
    results = pretraining_ablation(cfg, models, args.counting_dir, args.bench_root, args.counting_features,
                                   args.bench_features, args.train_root, args.truth_root, args.train_truth_root,
                                   read_grids(args.grids_path), args.encoder_features)
    storage.write_json(args.metrics_path, results)
    grouped_bars(args.plots_dir / "ablation.png", results, "mae",
                 "Pre-training ablation: MAE with each benchmark's KxK patches (the oracle uses benchmark labels)")
    for strategy, row in results.items():
        print(
            f"{strategy:>22}: " + "  ".join(f"{name} MAE {v['mae']:.1f} MSE {v['mse']:.1f}" for name, v in row.items())
        )
