"""A fresh git + DVC copy of this repository with its own params, for end-to-end tests."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]


def shanghaitech_root() -> Path | None:
    """ShanghaiTech's folder for the tests and perf/run.py: $SYRAC_SHANGHAITECH (.ci/run sets it from ../shared)
    or datasets/ShanghaiTech, where both parts are; None where neither holds them."""
    for candidate in (os.environ.get("SYRAC_SHANGHAITECH"), REPO / "datasets/ShanghaiTech"):
        if candidate and (Path(candidate) / "part_A").is_dir() and (Path(candidate) / "part_B").is_dir():
            return Path(candidate)
    return None


def merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``, key by key in nested mappings."""
    for key, value in override.items():
        base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return base


def env(**extra: str) -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


def run(args, cwd, **extra_env) -> str:
    result = subprocess.run(args, cwd=cwd, env=env(**extra_env), capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def dvc(*args, cwd, **extra_env) -> str:
    return run([sys.executable, "-m", "dvc", *args], cwd, **extra_env)


def param_slot(params: dict, key: str) -> tuple[dict | list, str | int]:
    """The mapping (or list) that holds the dotted ``key`` ("pretrain.lr", "pairs.remove_prob.0": list
    positions as numbers) and its last part; the parents must exist."""
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        part = int(part) if isinstance(node, list) else part
        assert part in (range(len(node)) if isinstance(node, list) else node), f"no parameter {key}"
        node = node[part]
    return node, int(leaf) if isinstance(node, list) else leaf


def make_repo(root: Path, overrides: dict | None, setup=None, files: tuple[str, ...] = ()) -> Path:
    """Copy the pipeline (and ``files``) into ``root`` with params.yaml = defaults + ``overrides``, or the
    committed params.yaml byte for byte when ``overrides`` is None; ``setup(root, params)`` may add files
    (datasets) and edit the params (None when kept verbatim) before the first commit."""
    for name in ("dvc.yaml", "stages", "syrac", "datasets/README.md", *files):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, root / name)
    if overrides is None:
        shutil.copy(REPO / "params.yaml", root / "params.yaml")
        params = None
    else:
        params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), overrides)
    if setup:
        setup(root, params)
    if params is not None:
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    dvc("init", "-q", cwd=root)
    dvc("config", "core.analytics", "false", cwd=root)
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")  # dvc.yaml's custom plot templates
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "fixture"], root)
    return root


def interrupt_stage(cwd: Path, dvc_args: list[str], script: str, ready, sig=signal.SIGKILL, timeout=300) -> None:
    """Run ``dvc <dvc_args>``, and once ``ready()`` is true, send ``sig`` to the process running ``script``;
    the run must then fail (as a crash or a killed job would)."""
    run_ = subprocess.Popen([sys.executable, "-m", "dvc", *dvc_args], cwd=cwd, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not ready():
        assert run_.poll() is None and time.monotonic() < deadline, f"{script} ended before it could be interrupted"
        time.sleep(0.01)
    stage = [p for p in psutil.Process(run_.pid).children(recursive=True) if script in " ".join(p.cmdline())]
    for process in stage:
        process.send_signal(sig)
    assert stage and run_.wait(timeout=120) != 0
