"""Stage: every declared benchmark as images + manifest, with head points kept apart.

Simulated benchmarks are rendered; dataset benchmarks are read in their official layout. Each
also gets a labelled training split, read only by the ablation's supervised oracle. Every dataset
folder is checked before any work starts, and all problems are reported together.
"""

import sys

from syrac import config, storage
from syrac.data import benchmarks
from syrac.data.datasets import ORACLE_SPLIT, benchmark_problems
from syrac.errors import stop_on_input_errors

if __name__ == "__main__":
    args = config.stage_paths("image_root", "truth_root", "train_image_root", "train_truth_root", "metrics_path")
    cfg = config.load_for_stage()
    problems = benchmark_problems(cfg)
    if problems:
        sys.exit("error: " + "\nerror: ".join(problems))
    stats = {}
    for name, bench in cfg.dataset_benchmarks.items():  # first: their bad images stop the run early
        with stop_on_input_errors():
            stats[name] = benchmarks.import_benchmark(bench, name, args.image_root / name, args.truth_root / name,
                                                      cfg.data.bad_images)
            stats[name]["train"] = benchmarks.import_benchmark(bench, name, args.train_image_root / name,
                                                               args.train_truth_root / name, cfg.data.bad_images,
                                                               ORACLE_SPLIT)
    for name in cfg.simulated_benchmarks:
        stats[name] = benchmarks.render_benchmark(cfg, name, args.image_root / name, args.truth_root / name)
        stats[name]["train"] = benchmarks.render_benchmark(cfg, name, args.train_image_root / name,
                                                           args.train_truth_root / name, ORACLE_SPLIT)
    for name in cfg.benchmarks:
        print(f"{name}: {stats[name]['images']} images ({stats[name]['skipped_bad_images']} skipped), "
              f"counts {stats[name]['min']}..{stats[name]['max']}, mean {stats[name]['mean']:.0f}")
    storage.write_json(args.metrics_path, {name: stats[name] for name in cfg.benchmarks})
