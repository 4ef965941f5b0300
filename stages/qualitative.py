"""Stage: per benchmark, the sparsest, a median and the densest image with their KxK patch counts (Figure 5)."""


import numpy as np

from syrac import config
from syrac.data.benchmarks import read_manifest
from syrac.figures import image_grid
from syrac.inference.count import draw_tiles, load_counter
from syrac.inference.evaluation import read_grids, true_counts
from syrac.storage import read_image

if __name__ == "__main__":
    args = config.stage_paths("counter_path", "bench_root", "truth_root", "grids_path", "plots_dir")
    cfg = config.load_for_stage()
    counter, grids = load_counter(args.counter_path), read_grids(args.grids_path)
    for name in cfg.benchmarks:
        k = grids[name]
        names, paths = read_manifest(args.bench_root / name)
        true = true_counts(args.truth_root / name, names)
        order = np.argsort(true, kind="stable")
        panels = []
        for index in dict.fromkeys((order[0], order[len(order) // 2], order[-1])):
            image = read_image(paths[index])
            reading = counter.read(image, k)
            panels.append((draw_tiles(image, reading.tiles), f"{names[index]}: true {true[index]:.0f}, "
                                                             f"predicted {reading.count:.0f}"))
        image_grid(args.plots_dir / f"{name}.png", panels, f"{name}: counts of a {k}x{k} grid of patches")
