"""Stage (review questions 1 and 2): does a rank head order real images by their count, and did the
ranking loss learn only "edited or not"? The heads of SYRAC, of the intra-image baseline and of the
untrained encoder (a head fitted on SYRAC's training pairs the same way) on every benchmark."""

from syrac import config, storage
from syrac.inference.evaluation import read_grids
from syrac.studies.review import plot_pair_accuracy, ranking_review

if __name__ == "__main__":
    args = config.stage_paths(
        "rank_path",
        "intra_path",
        "pairs_dir",
        "people_dir",
        "pairs_truth",
        "bench_root",
        "features_root",
        "encoder_features",
        "truth_root",
        "grids_path",
        "metrics_path",
        "worst_path",
        "plots_dir",
    )
    cfg = config.load_for_stage()
    results, worst = ranking_review(
        cfg,
        args.rank_path,
        args.intra_path,
        args.pairs_dir,
        args.people_dir,
        args.pairs_truth,
        args.bench_root,
        args.features_root,
        args.encoder_features,
        args.truth_root,
        read_grids(args.grids_path),
        args.plots_dir,
    )
    storage.write_json(args.metrics_path, results)
    storage.write_json(args.worst_path, worst)
    plot_pair_accuracy(args.plots_dir / "pair_accuracy.png", results["pair_accuracy"])
