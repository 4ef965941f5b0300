"""Stage: refuse a bad run before any other stage touches its outputs.

DVC deletes a stage's outputs before it runs the stage's command, so a stage that refuses bad
parameters itself has already lost its committed outputs. Every other stage depends on this stage's
marker, so DVC runs it first whenever params.yaml or a dataset folder changed: a bad parameter,
a missing or malformed dataset folder or missing weights stop the run here, with every output as
it was. The marker is declared ``persist`` (never deleted by DVC) and its content is constant, so
a passing check reruns nothing downstream.
"""

import sys

from syrac import config, storage
from syrac.tools import check

MARKER = b"params.yaml, dataset folders and weights checked by stages/check.py\n"

if __name__ == "__main__":
    args = config.stage_paths("marker")
    problems = check.problems()
    if problems:
        print("\n".join(f"error: {problem}" for problem in problems), file=sys.stderr)
        sys.exit(f"error: {len(problems)} problem(s); nothing was run and no output was touched")
    storage.write_bytes(args.marker, MARKER)
