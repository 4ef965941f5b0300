"""Stage: crops of every benchmark's test images holding 0, 1-5 and 6-20 annotated heads, counted whole."""


from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.inference.count import load_counter
from syrac.inference.evaluation import true_points
from syrac.studies.sparse_scenes import read_out

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "bench_root", "truth_root", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    counter = load_counter(args.counter_path)
    results = {}
    for name in cfg.benchmarks:
        names, paths = read_manifest(args.bench_root / name)
        points = [true_points(args.truth_root / name, image) for image in names]
        results[name], rows = read_out(counter, paths, points, cfg.seed)
        storage.write_csv(
            args.plots_dir / f"{name}.csv",
            ["image", "heads_bin", "left", "top", "right", "bottom", "true_count", "predicted_count"],
            rows,
        )
        print(
            f"{name}: "
            + "  ".join(
                f"{group} heads: {s['mean_count']:.1f} (true {s['mean_true']:.1f}, {s['crops']} crops)"
                for group, s in results[name].items()
                if s["crops"]
            )
        )
    storage.write_json(args.metrics_path, results)
