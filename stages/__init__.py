"""One script per DVC stage. dvc.yaml runs each as ``python -m stages.<name>`` from the repository
root, so a stage imports the ``syrac`` beside it, not an installed one from another folder: a queued
or ``--temp`` ``dvc exp run`` works in a copy of the repository, and runs that copy's code."""

import argparse
import os
import signal
import sys
from pathlib import Path

from syrac import config


def stage_paths(*names: str, optional: tuple[str, ...] = (), argv: list[str] | None = None) -> argparse.Namespace:
    """The paths dvc.yaml's cmd passes by name (``--model-path models/rank.pt`` for ``model_path``), so a
    cmd can neither hand a script its inputs in another order nor leave one out."""
    parser = argparse.ArgumentParser(description="a DVC stage (see dvc.yaml)")
    for name in (*names, *optional):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=name not in optional)
    return parser.parse_args(argv)


def load_for_stage(path: str | Path = "params.yaml") -> config.Config:
    """Bad parameters end the run with one line per problem and exit code 2, before any output is
    touched. A SIGTERM (a scheduler's kill) then ends the stage like an exception, so pending
    temporary files are removed on the way out. With ``SYRAC_PARAMS_READ`` set (a test), every params
    key the stage reads is recorded there."""
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    try:
        cfg = config.load(path)
    except config.ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    if os.environ.get("SYRAC_PARAMS_READ"):
        config.record_reads(Path(os.environ["SYRAC_PARAMS_READ"]))
    return cfg
