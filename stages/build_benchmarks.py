"""Stage: every embedded benchmark's test images, with exact head points kept apart."""

import sys
from pathlib import Path

from syrac import config, generate

if __name__ == "__main__":
    image_root, truth_root = map(Path, sys.argv[1:3])
    cfg = config.load_for_stage()
    for name in cfg.benchmarks:
        stats = generate.build_benchmark(cfg, name, image_root / name, truth_root / name)
        print(f"{name}: {stats['images']} images, counts {stats['min']}..{stats['max']}, mean {stats['mean']:.0f}")
