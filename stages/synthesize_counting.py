"""Stage: the noisy synthetic counting set, labelled with prompted counts, with either backend (and, with
counting.photo_people, scenes of the people that cut_out_people cut out of the photos)."""

import sys

from syrac.synthetic import generate

if __name__ == "__main__":
    summary = generate.run_stage(generate.synthesize_counting, sys.argv[1:], inputs=("people_dir",))
    if summary:
        print(f"{summary['images']} images labelled with their prompted count")
