"""Stage: off-the-shelf person detectors (their counts from stage detect) beside SYRAC on every benchmark image:
MAE, MSE, Spearman, and images/s (SYRAC's measured here, the detectors' where detect ran; both machines named)."""

import time

import numpy as np
from tqdm import tqdm

from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.figures import grouped_bars
from syrac.inference.count import load_counter
from syrac.inference.evaluation import read_grids, scores, true_counts
from syrac.method.model import machine
from syrac.storage import read_image
from syrac.studies import peers

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "bench_root", "truth_root", "predictions_dir", "grids_path",
                              "detections_dir", "metrics_path", "plots_dir")
    cfg = config.load_for_stage()
    counter, grids = load_counter(args.counter_path), read_grids(args.grids_path)
    speeds = storage.read_json(args.detections_dir / peers.SPEEDS)
    results = {}
    for name in cfg.benchmarks:
        names, paths = read_manifest(args.bench_root / name)
        true = true_counts(args.truth_root / name, names)
        syrac_counts = np.array(
            [float(r["predicted_count"]) for r in storage.read_csv(args.predictions_dir / f"{name}.csv")]
        )
        detected = storage.read_csv(args.detections_dir / f"{name}.csv")
        if [row["image"] for row in detected] != list(names):
            raise SystemExit(f"{args.detections_dir / name}.csv lists other images than {name}'s: run stage detect")
        counted = {detector: (np.array([float(row[detector]) for row in detected]), speeds[name][detector])
                   for detector in cfg.peers.detectors}
        start = time.perf_counter()  # syrac count's speed on the same images: decode, patches, count
        for path in tqdm(paths, desc=f"syrac: {name}", unit="img"):
            counter.read(read_image(path), grids[name])
        counted["syrac"] = (syrac_counts, len(paths) / (time.perf_counter() - start))
        results[name] = {
            method: {**scores(counts, true), "images_per_s": speed} for method, (counts, speed) in counted.items()
        }
        storage.write_csv(args.plots_dir / f"{name}.csv", ["image", "true_count", *counted],
                          [[image, int(t), *(round(float(c[i]), 2) for c, _ in counted.values())]
                           for i, (image, t) in enumerate(zip(names, true))])
        print(
            f"{name}: "
            + "  ".join(
                f"{method} MAE {r['mae']:.1f} ({r['images_per_s']:.1f} img/s)" for method, r in results[name].items()
            )
        )
    # speeds hold on the machine they were measured on: SYRAC's here, the detectors' where detect ran
    storage.write_json(args.metrics_path, {**results, "machine": machine(), "detectors_machine": speeds["machine"]})
    by_method = {method: {name: results[name][method] for name in results} for method in next(iter(results.values()))}
    grouped_bars(
        args.plots_dir / "mae.png", by_method, "mae", "SYRAC (hatched) and off-the-shelf person detectors: MAE"
    )
    grouped_bars(args.plots_dir / "speed.png", by_method, "images_per_s", "Images per second, decoding included")
