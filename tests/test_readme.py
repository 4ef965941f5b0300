"""Every shell command of the README and the docs works as written, after the README's setup.

Each ```bash block is read from README.md and docs/*.md, and each command in it is matched to one row of
``COMMANDS``: cheap commands run for real in a copy of the repository, in a shell with the
project's environment only where the block activates it (as a reader's shell would be), and
expensive ones are checked as far as they can be without running (``dvc repro`` runs its first
stage, which starts the stages' ``python``; ``dvc exp run -S`` values are validated as params).
A command that no row knows fails the test, so the README and the docs cannot drift from the code.
"""

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from layouts import BUILDERS
from repo import REPO, make_repo, merge, param_slot

from syrac import config

ACTIVATE = "source .venv/bin/activate"
DOCUMENTED = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]  # every page with commands to run


def readme_blocks(text: str) -> list[list[str]]:
    """The commands of every ```bash block: comments dropped, `&&` chains split."""
    blocks = []
    for body in re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S):
        lines = [re.sub(r"\s+#.*$", "", line).strip() for line in body.splitlines()]
        blocks.append([part.strip() for line in lines if line for part in line.split("&&")])
    return blocks


def _set_params(command: str) -> None:
    """Every combination of a ``dvc exp run -S key=v1,v2`` sweep must be valid params."""
    sets = [value for flag, value in zip(shlex.split(command), shlex.split(command)[1:]) if flag == "-S"]
    assert sets, command
    choices = []
    for item in sets:
        key, values = item.split("=", 1)
        choices.append([(key.lstrip("+"), yaml.safe_load(v)) for v in values.split(",")])
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    for combination in itertools.product(*choices):
        params = yaml.safe_load(yaml.safe_dump(base))
        for key, value in combination:
            node, leaf = param_slot(params, key)
            assert leaf in node, f"{command}: no parameter {key}"
            merge(node, {leaf: value})
        config.from_dict(params)  # raises ConfigError naming the bad key


# (pattern, how it is exercised): "run" runs it as written and needs exit code 0; a tuple
# (command, allowed exit codes, text the output must hold) runs that instead; a function checks
# the command without running it.
COMMANDS = [
    (r"make (repro|test)", ("make -n {0}", (0,), "")),  # the targets exist (running them is CI's job)
    (
        r"ln -s /path/to/ShanghaiTech datasets/ShanghaiTech",
        ("ln -s ../../ShanghaiTech datasets/ShanghaiTech", (0,), ""),
    ),
    (r"python -m syrac\.tools\.profile (paper|embedded|shanghaitech)", "run"),
    (r"python -m syrac\.tools\.check", (None, (0, 1), "problem(s) found|ready to run")),
    (
        r"python -m syrac\.studies\.label_noise",
        (None, (1,), "fewer than two label-noise levels"),
    ),  # no experiments here
    # a DAG per seed: CI's time
    (r"python -m syrac\.tools\.seeds .*", ("python -m syrac.tools.seeds --help", (0,), "--headline")),
    # the first stage runs, so the stages' `python` starts; it may refuse (the paper profile's data is not here)
    (r"dvc repro", ("dvc repro check", (0, 255), "Running stage 'check'")),
    (r"dvc exp run .*", _set_params),
    (r"dvc queue start -j 1", lambda command: None),  # would start the queued experiments
    (r"dvc (exp show --only-changed|metrics diff)", "run"),
    (r"dvc plots diff <exp-a> <exp-b>", lambda command: None),  # placeholders for experiment names
    (r"syrac count .*", "run"),
    (r"syrac count --help", "run"),
]


@pytest.fixture(scope="module")
def readme_repo(tiny_repo, tmp_path_factory):
    """A git + DVC copy with the committed params.yaml (comments and all), a trained tiny counter,
    photos to count, and .venv pointing at this test's environment."""
    root = tmp_path_factory.mktemp("readme") / "repo"
    for part, counts in (("part_A", [40, 75]), ("part_B", [9, 30])):  # a tiny ShanghaiTech beside the copy
        for split in ("train", "test"):
            BUILDERS["shanghaitech"](root.parent / "ShanghaiTech" / part, split, counts)

    def add_environment_model_and_photos(root, _):
        (root / ".venv").symlink_to(sys.prefix)
        (root / "models").mkdir()
        shutil.copy(tiny_repo / "models/syrac.pt", root / "models/syrac.pt")
        (root / "photos").mkdir()
        for i in (1, 2, 3):
            shutil.copy(tiny_repo / f"data/benchmarks/sim_sparse/IMG_{i}.jpg", root / f"photos/IMG_{i}.jpg")
        shutil.copy(tiny_repo / "data/benchmarks/sim_sparse/IMG_4.jpg", root / "street.jpg")
        import cv2  # the peers extra: a three-second clip of the benchmark image, for the video command

        frame = cv2.resize(cv2.imread(str(root / "street.jpg")), (96, 64))
        writer = cv2.VideoWriter(str(root / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
        for _ in range(30):
            writer.write(frame)
        writer.release()

    return make_repo(root, None, add_environment_model_and_photos,
                     files=("Makefile", "pyproject.toml", "README.md", "profiles", "metrics"))


def _shell(command: str, activated: bool, cwd: Path) -> subprocess.CompletedProcess:
    """``command`` in bash as a reader types it: this test's environment is *not* on PATH."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": path}
    script = f"{ACTIVATE} && {command}" if activated else command
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_every_readme_block_is_known_and_works_as_written(readme_repo):
    params_before = (readme_repo / "params.yaml").read_bytes()
    blocks = [block for page in DOCUMENTED for block in readme_blocks(page.read_text())]
    assert len(blocks) >= 5 and any(ACTIVATE in block for block in blocks)
    ran = []
    for block in blocks:
        for position, command in enumerate(block):
            if command == ACTIVATE:
                continue
            activated = ACTIVATE in block[:position]
            match, rule = next(((m, action) for pattern, action in COMMANDS
                                if (m := re.fullmatch(pattern, command))), (None, None))
            assert match, f"documented command not covered by tests/test_readme.py: {command}"
            if callable(rule):
                rule(command)
                continue
            template, codes, expected = (None, (0,), "") if rule == "run" else rule
            actual = template.format(*match.groups()) if template else command
            result = _shell(actual, activated, readme_repo)
            output = result.stdout + result.stderr
            assert result.returncode in codes, (
                f"README: `{command}` (ran `{actual}`) exited {result.returncode}:\n{output[-3000:]}"
            )
            assert "Traceback" not in output and "ModuleNotFoundError" not in output, output[-3000:]
            assert not expected or re.search(expected.replace("(", r"\(").replace(")", r"\)"), output), output[-3000:]
            ran.append(command)
    assert (readme_repo / "params.yaml").read_bytes() == params_before  # every profile switch went back
    header = (readme_repo / "counts.csv").read_text().splitlines()[0]
    assert header == "image,frame,time_s,count,in_range,reason,counter"
    assert (readme_repo / "plots/clip_counts.png").is_file()  # the video's count over time
    assert len(list((readme_repo / "overlays").glob("*_count.png"))) == 3
    assert any(c.startswith("dvc repro") for c in ran) and any(c.startswith("syrac count") for c in ran)


def test_an_unactivated_stage_command_is_caught(readme_repo):
    """The bug this test exists for: `dvc repro` outside the environment runs a `python` without syrac."""
    result = _shell(f"{readme_repo}/.venv/bin/dvc repro check --force", False, readme_repo)
    assert result.returncode != 0


def test_command_extraction():
    text = "x\n```bash\nsource .venv/bin/activate\ndvc exp run -S 'a=1,2' && dvc queue start   # go\n```\n"
    assert readme_blocks(text) == [[ACTIVATE, "dvc exp run -S 'a=1,2'", "dvc queue start"]]
