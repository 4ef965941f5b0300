"""Stage: the noisy synthetic counting set, labelled with prompted counts, with either backend."""

import sys

from syrac.synthetic import generate

if __name__ == "__main__":
    summary = generate.run_stage(generate.synthesize_counting, sys.argv[1:])
    if summary:
        print(f"{summary['images']} images labelled with their prompted count")
