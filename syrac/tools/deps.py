"""Keep each stage's code deps in dvc.yaml equal to the code it runs: ``python -m syrac.tools.deps``.

A stage must rerun when any code it runs changes, so its deps list its script and every syrac module
the script reaches through imports (lazy ones included, and each package's ``__init__``). Listed by
hand they drift; listing whole package folders instead would rerun every stage on any change to a
sibling module (training on a change to a plot). So they are generated from the imports themselves:
this tool rewrites the code part of every stage's ``deps`` in place, keeping its data deps and the
rest of the file, and ``tests/test_dvc_yaml.py`` fails while dvc.yaml differs from what it writes.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_ROOTS = ("stages/", "syrac/")
WIDTH = 120
INDENT = " " * 10  # continuation lines of a flow list under "    deps: ["


def imported_files(path: Path, root: Path = ROOT) -> set[Path]:
    """The syrac modules (and the __init__ of every package on the way) that ``path`` imports anywhere
    in its text, lazily imported ones included."""
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
                parts = name.split(".")  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
                packages = [root / Path(*parts[:i]) / "__init__.py" for i in range(1, len(parts) + 1)]
                found |= {p for p in ((root / Path(*parts)).with_suffix(".py"), *packages) if p.is_file()}
    return found


DISCOVERS_ITS_MODULES = "pkgutil.iter_modules(__path__)"  # a plug-in package (syrac/method/readouts/)


def code_of(script: Path, root: Path = ROOT) -> set[Path]:
    """``script`` and every syrac module it reaches through imports; a package that imports each of its
    own modules at run time (a registry of plug-ins) reaches all of them."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_files(path, root))
            if path.name == "__init__.py" and DISCOVERS_ITS_MODULES in path.read_text():
                todo.extend(sorted(path.parent.glob("*.py")))
    return seen


def script_of(stage: dict, root: Path = ROOT) -> Path:
    """The stage script that a cmd runs (``python -m stages.<name>``, or the launcher's ``-m``)."""
    [module] = re.findall(r"-m stages\.(\w+)", stage["cmd"])
    return root / "stages" / f"{module}.py"


def stage_deps(stage: dict, root: Path = ROOT) -> list[str]:
    """A stage's deps as they should read: ``data/checked`` first, its script, the code it runs
    (sorted), then its other data deps in their order."""
    script = script_of(stage, root)
    code = sorted(str(p.relative_to(root)) for p in code_of(script, root) | {root / "stages/__init__.py"}
                  if p != script)
    data = [d for d in stage.get("deps", []) if not d.startswith(CODE_ROOTS)]
    first = [d for d in data if d == "data/checked"]
    return first + [str(script.relative_to(root))] + code + [d for d in data if d != "data/checked"]


def flow_list(items: list[str]) -> str:
    """``deps: [a, b, ...]`` wrapped at the line width, as dvc.yaml writes its lists."""
    lines, line = [], "    deps: ["
    for i, item in enumerate(items):
        piece = item + ("]" if i == len(items) - 1 else ",")
        if len(line) + 1 + len(piece) > WIDTH and not line.endswith("["):
            lines.append(line)
            line = INDENT + piece
        else:
            line += ("" if line.endswith("[") else " ") + piece
    return "\n".join(lines + [line])


def generated(text: str, root: Path = ROOT) -> str:
    """dvc.yaml's text with every stage's deps list regenerated; everything else as it was."""
    stages = yaml.safe_load(text)["stages"]
    out, current = [], None
    lines = iter(text.splitlines())
    for line in lines:
        header = re.match(r"^  (\w+):$", line)
        if header:
            current = header.group(1)
        if current in stages and line.startswith("    deps: ["):
            while not line.rstrip().endswith("]"):
                line = next(lines)
            out.append(flow_list(stage_deps(stages[current], root)))
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def main() -> int:
    path = ROOT / "dvc.yaml"
    text = path.read_text()
    new = generated(text)
    if new != text:
        path.write_text(new)
        print(f"{path.name}: stage deps regenerated from the code's imports")
    else:
        print(f"{path.name}: stage deps already match the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
