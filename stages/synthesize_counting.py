"""Stage: the noisy synthetic counting set, labelled with prompted counts, with either backend."""

from stages import load_for_stage, stage_paths
from syrac.synthetic import generate

if __name__ == "__main__":
    summary = generate.run_stage(generate.synthesize_counting, stage_paths(*generate.STAGE_PATHS), load_for_stage())
    if summary:
        print(f"{summary['images']} images labelled with their prompted count")
