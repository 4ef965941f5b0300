"""Switch params.yaml between profiles: ``python -m syrac.tools.profile paper|embedded [params.yaml]``.

A profile (``profiles/<name>.yaml``) lists the keys it sets; they are written into params.yaml in
place, keeping every other key and the comments. ``sources`` and ``benchmarks`` are replaced as a
whole, since their keys depend on their ``format``, and so is ``evaluate.patches`` (a K per
benchmark). The result is validated before it is written.

Outputs that DVC does not cache (``plots/predictions`` and the like) are git's to restore, and git
leaves files it never tracked: a benchmark that the new profile drops would leave its per-benchmark
files there, and ``dvc status`` would call the folder modified. So the switch removes them.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml import YAML

from syrac import config, storage

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
REPLACED_WHOLE = ("sources", "benchmarks", "evaluate.patches")


def _overlay(target, profile, prefix: str = "") -> int:
    """Write ``profile``'s values into ``target``; returns how many values changed."""
    changed = 0
    for key, value in profile.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict) and path not in REPLACED_WHOLE:
            changed += _overlay(target[key], value, f"{path}.")
        elif target.get(key) != value:
            target[key] = value
            changed += 1
    return changed


def uncached_outputs(dvc_yaml: Path) -> list[str]:
    """The stage outputs of ``dvc_yaml`` that DVC does not cache (metrics and plots): git, not
    `dvc checkout`, restores them."""
    stages = YAML(typ="safe").load(dvc_yaml.read_text())["stages"]
    outs = [out for stage in stages.values() for kind in ("outs", "metrics", "plots") for out in stage.get(kind, [])
            if isinstance(out, dict)]
    return [path for out in outs for path, options in out.items() if options and options.get("cache") is False]


def uncached_output_folders(dvc_yaml: Path) -> list[Path]:
    """The uncached outputs that are folders on disk (the per-benchmark plots)."""
    return [dvc_yaml.parent / path for path in uncached_outputs(dvc_yaml) if (dvc_yaml.parent / path).is_dir()]


def belongs_to(stem: str, benchmark: str) -> bool:
    """Per-benchmark outputs are named ``<benchmark>``, ``<benchmark>_<what>`` or ``<what>_<benchmark>``."""
    return stem == benchmark or stem.startswith(f"{benchmark}_") or stem.endswith(f"_{benchmark}")


def remove_dropped_outputs(root: Path, dropped: set[str]) -> list[Path]:
    """Delete the files of benchmarks in ``dropped`` from the uncached stage output folders of ``root/dvc.yaml``."""
    if not dropped or not (root / "dvc.yaml").is_file():
        return []
    stale = [path for folder in uncached_output_folders(root / "dvc.yaml") for path in sorted(folder.iterdir())
             if path.is_file() and any(belongs_to(path.stem, name) for name in dropped)]
    for path in stale:
        path.unlink()
    return stale


class Applied(NamedTuple):
    """params.yaml with a profile overlaid."""

    text: str  # comments and key order kept
    cfg: config.Config  # validated
    changed: int  # values the profile changed
    declared_before: set[str]  # the benchmarks params.yaml declared before it


def _applied(name: str, params_path: str | Path) -> Applied:
    profile_path = PROFILES / f"{name}.yaml"
    if not profile_path.is_file():
        known = sorted(p.stem for p in PROFILES.glob("*.yaml"))
        raise config.ConfigError([f"no profile '{name}'; known profiles: {', '.join(known)}"])
    if not Path(params_path).is_file():
        raise config.ConfigError([f"{params_path} not found: run from the repository root, where params.yaml lives"])
    yaml = YAML()  # round-trip mode: comments and key order survive
    yaml.width = 120
    params = yaml.load(Path(params_path).read_text())
    declared = set(params.get("benchmarks") or {})
    changed = _overlay(params, yaml.load(profile_path.read_text()))
    buffer = io.StringIO()
    yaml.dump(params, buffer)
    return Applied(buffer.getvalue(), config.from_dict(YAML(typ="safe").load(buffer.getvalue())), changed, declared)


def profile_config(name: str, params_path: str | Path = "params.yaml") -> config.Config:
    """The config that profile ``name`` gives, without writing params.yaml (the benchmarks of a profile)."""
    return _applied(name, params_path).cfg


def switch(name: str, params_path: str | Path = "params.yaml") -> int:
    """Apply profile ``name`` to ``params_path``; returns the number of values changed. The output
    files of benchmarks the profile drops are removed from beside it (``remove_dropped_outputs``)."""
    applied = _applied(name, params_path)  # validated first: an invalid params.yaml is never written
    storage.write_bytes(params_path, applied.text.encode())
    dropped = applied.declared_before - set(applied.cfg.benchmarks)
    for path in remove_dropped_outputs(Path(params_path).parent, dropped):
        print(f"removed {path} (its benchmark is not in profile '{name}')", file=sys.stderr)
    return applied.changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    params_path = args[1] if len(args) == 2 else "params.yaml"
    try:
        changed = switch(args[0], params_path)
    except config.ConfigError as error:
        print("error: " + str(error).replace("\n", "\nerror: "), file=sys.stderr)
        return 2
    print(f"{params_path}: profile '{args[0]}' applied ({changed} value(s) changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
