"""Every numeric parameter's domain, generated from params.yaml itself: an out-of-domain value is
either refused up front by ``syrac.tools.check``, naming its key, or the first stage that reads it runs
on it without error. A parameter added to params.yaml is covered without editing this file."""

import copy
import math
import shutil
from pathlib import Path

import pytest
import yaml
from repo import REPO, dvc, param_slot

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def numeric_leaves(node, key=""):
    """Dotted keys of every number in params.yaml, list items included (``pairs.remove_prob.0``)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, value in items:
        path = f"{key}.{name}" if key else str(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, value
        else:
            yield from numeric_leaves(value, path)


def out_of_domain(value):
    """Negative, zero, NaN and absurdly large, in the parameter's own type where YAML has one."""
    return [-1, 0, math.nan, 10**12] if isinstance(value, int) else [-1.0, 0.0, math.nan, 1e12]


CASES = [(key, bad) for key, value in numeric_leaves(PARAMS) for bad in out_of_domain(value)]


def with_value(params: dict, key: str, value) -> dict:
    """A copy of ``params`` with the dotted ``key`` (list positions as numbers) set to ``value``."""
    changed = copy.deepcopy(params)
    node, leaf = param_slot(changed, key)
    node[leaf] = value
    return changed


def _accepted(key: str, value) -> bool:
    from syrac import config

    try:
        config.from_dict(with_value(PARAMS, key, value))
    except config.ConfigError:
        return False
    return True


ACCEPTED = [(key, value) for key, value in CASES if _accepted(key, value)]  # meaningful zeros, mostly


def named_key(key: str) -> str:
    """The key a problem must name: a list item's problem names its list."""
    parent, _, last = key.rpartition(".")
    return parent if last.isdigit() else key


def first_reader(key: str) -> str:
    """The first stage (dvc.yaml is in run order) whose declared params cover ``key``; ``check`` reads all."""
    for name, stage in STAGES.items():
        declared = [p for p in stage.get("params", []) if isinstance(p, str)]
        if any(key == p or key.startswith(f"{p}.") for p in declared):
            return name
    raise AssertionError(f"no stage declares a parameter covering {key}")


def test_the_cases_cover_every_section_of_params_yaml():
    sections = {key.split(".")[0] for key, _ in CASES}
    numeric_sections = {name for name, value in PARAMS.items() if any(True for _ in numeric_leaves({name: value}))}
    assert sections == numeric_sections and len(CASES) > 250


@pytest.fixture(scope="module")
def scratch_repo(tiny_repo, tmp_path_factory):
    """A copy of the trained tiny repository, whose stages the accepted values rerun one by one."""
    root = tmp_path_factory.mktemp("domains") / "repo"
    shutil.copytree(tiny_repo, root, symlinks=True)
    return root


def problems_with(key: str, value, tmp_path: Path) -> list[str]:
    from syrac.tools import check

    params_path = tmp_path / f"params-{key}-{value}.yaml"
    params_path.write_text(yaml.safe_dump(with_value(PARAMS, key, value), sort_keys=False))
    return check.problems(str(params_path))


@pytest.mark.parametrize("key,value", CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_an_out_of_domain_value_is_refused_naming_its_key_or_left_to_its_stage(key, value, tmp_path):
    problems = problems_with(key, value, tmp_path)
    assert any(named_key(key) in problem for problem in problems) if problems else (key, value) in ACCEPTED, problems


@pytest.mark.e2e
@pytest.mark.parametrize("key,value", ACCEPTED, ids=[f"{k}={v}" for k, v in ACCEPTED])
def test_an_accepted_value_runs_the_first_stage_that_reads_it(key, value, tmp_path, scratch_repo):
    assert problems_with(key, value, tmp_path) == []
    repo_params = scratch_repo / "params.yaml"
    original = repo_params.read_text()
    repo_params.write_text(yaml.safe_dump(with_value(yaml.safe_load(original), key, value), sort_keys=False))
    try:
        dvc("repro", "--force", "--single-item", first_reader(key), cwd=scratch_repo)
    finally:
        repo_params.write_text(original)


def test_seed_minus_one_is_refused_by_the_check_with_its_rule(tmp_path, capsys):
    from syrac.tools import check

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_value(PARAMS, "seed", -1), sort_keys=False))
    assert check.main([str(tmp_path / "params.yaml")]) == 1
    assert "seed = -1 is not allowed: an integer in [0, 2**32)" in capsys.readouterr().out
