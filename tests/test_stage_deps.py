"""A stage reruns when any code it runs changes: every syrac module that a stage's script imports,
directly or through other syrac modules, is among the stage's deps in dvc.yaml (as a file or a folder
above it). Otherwise a change to, say, the probe's read-out would leave its metrics stale while
`dvc status` said all was clean."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from repo import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def imported_files(path: Path) -> set[Path]:
    """The syrac modules (and packages' __init__) that ``path`` imports anywhere in its text, lazily
    imported ones included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "syrac" or name.startswith("syrac."):
                base = REPO / Path(*name.split("."))
                found |= {p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()}
    return found


def code_of(script: Path) -> set[Path]:
    """``script`` and every syrac module it reaches through imports."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_files(path))
    return seen


def uncovered(stage: dict) -> list[str]:
    [script] = re.findall(r"stages/\w+\.py", stage["cmd"])
    deps = [REPO / dep for dep in stage["deps"]]
    return sorted(str(path.relative_to(REPO)) for path in code_of(REPO / script)
                  if not any(path == dep or dep in path.parents for dep in deps))


@pytest.mark.parametrize("name", STAGES)
def test_every_module_a_stage_runs_is_among_its_deps(name):
    assert uncovered(STAGES[name]) == [], f"add these to the deps of stage {name} in dvc.yaml"


def test_the_import_walk_follows_modules_through_the_library():
    """``evaluate`` reaches the probe only through syrac.evaluation: the walk must see it."""
    reached = {str(p.relative_to(REPO)) for p in code_of(REPO / "stages/evaluate.py")}
    assert {"stages/evaluate.py", "syrac/evaluation.py", "syrac/probe.py", "syrac/storage.py"} <= reached
