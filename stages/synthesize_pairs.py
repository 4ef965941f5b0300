"""Stage: render unlabelled source scenes and remove people from each, four times (ranking pairs)."""

import sys
from pathlib import Path

from syrac import config, generate

if __name__ == "__main__":
    out_dir, truth_dir = map(Path, sys.argv[1:3])
    summary = generate.synthesize_pairs(config.load_for_stage(), out_dir, truth_dir)
    print(f"{summary['pairs']} pairs from {summary['sources']} sources; "
          f"edit strictly sparser in {summary['strictly_fewer_in_edit']:.1%} (diagnostic only)")
