"""Stage: unlabelled sources and, for each, removal edits (ranking pairs), with either backend.

Multi-GPU: set generator.launcher (e.g. "accelerate launch --multi_gpu --num_processes 4").
"""

import sys

from syrac.synthetic import generate

if __name__ == "__main__":
    summary = generate.run_stage(generate.synthesize_pairs, sys.argv[1:])
    if summary:
        print(f"{summary['pairs']} pairs from {summary['sources']} sources "
              f"({summary['skipped_bad_images']} unreadable skipped)")
