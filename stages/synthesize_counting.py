"""Stage: the noisy synthetic counting set, labelled with prompted counts."""

import sys
from pathlib import Path

from syrac import config, generate

if __name__ == "__main__":
    out_dir, truth_dir = map(Path, sys.argv[1:3])
    summary = generate.synthesize_counting(config.load_for_stage(), out_dir, truth_dir)
    print(f"{summary['images']} images; mean |true - prompted| / prompted = "
          f"{summary['mean_relative_label_error']:.2f} (diagnostic only)")
