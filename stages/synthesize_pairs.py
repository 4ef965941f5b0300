"""Stage: unlabelled sources and, for each, removal edits (ranking pairs), with either backend.

Multi-GPU: set generator.launcher (e.g. "accelerate launch --multi_gpu --num_processes 4").
"""

import sys
from functools import partial

from syrac.data.datasets import training_images
from syrac.synthetic import generate


def dataset_images(sources):
    """A dataset's training images, less its development part (never its annotations)."""
    return training_images(sources.format, sources.root, sources.split)


if __name__ == "__main__":
    summary = generate.run_stage(partial(generate.synthesize_pairs, dataset_images=dataset_images), sys.argv[1:])
    if summary:
        print(f"{summary['pairs']} pairs from {summary['sources']} sources "
              f"({summary['skipped_bad_images']} unreadable skipped)")
