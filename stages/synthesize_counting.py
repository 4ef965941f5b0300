"""Stage: the noisy synthetic counting set, labelled with prompted counts, with either backend."""

import sys
from pathlib import Path

from accelerate import PartialState

from syrac import config, generate, storage
from syrac.stage_errors import stop_on_input_errors

if __name__ == "__main__":
    out_dir, truth_dir, metrics_path, work_root = map(Path, sys.argv[1:5])
    cfg = config.load_for_stage()
    state = PartialState()
    with stop_on_input_errors():
        summary = generate.synthesize_counting(cfg, out_dir, truth_dir, work_root, state)
    if state.is_main_process:
        storage.write_json(metrics_path, summary)
        print(f"{summary['images']} images labelled with their prompted count")
