"""dvc.yaml cannot drift from the code. A stage reruns when any code it runs changes: every syrac
module that a stage's script imports, directly or through other syrac modules, is among the stage's
deps (as a file or a folder above it); otherwise a change to, say, the probe's read-out would leave its
metrics stale while `dvc status` said all was clean. And every path a cmd hands its script (by name)
is a dep or an out of that stage, and every out and data dep is handed over. Likewise every params
key a stage reads (recorded while the tiny DAG runs) is among its params, or a change to it would
leave the stage's outputs stale."""

import json
import multiprocessing
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import PARAMS_READ
from repo import REPO

from syrac import config
from syrac.tools.deps import code_of, generated, script_of

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def test_every_stage_s_code_deps_are_the_generated_ones():
    """dvc.yaml's deps are written by ``python -m syrac.tools.deps`` from the imports: run it after a change."""
    assert (REPO / "dvc.yaml").read_text() == generated((REPO / "dvc.yaml").read_text()), \
        "dvc.yaml's deps differ from the code's imports: run python -m syrac.tools.deps"


def uncovered(stage: dict) -> list[str]:
    deps = [REPO / dep for dep in stage["deps"]]
    return sorted(str(path.relative_to(REPO)) for path in code_of(script_of(stage)) | {REPO / "stages/__init__.py"}
                  if not any(path == dep or dep in path.parents for dep in deps))


@pytest.mark.parametrize("name", STAGES)
def test_every_module_a_stage_runs_is_among_its_deps(name):
    assert uncovered(STAGES[name]) == [], f"add these to the deps of stage {name} in dvc.yaml"


def test_the_import_walk_follows_modules_through_the_library():
    """``evaluate`` reaches the probe only through syrac.inference.evaluation: the walk must see it."""
    reached = {str(p.relative_to(REPO)) for p in code_of(REPO / "stages/evaluate.py")}
    assert {"stages/evaluate.py", "syrac/inference/evaluation.py", "syrac/method/probe.py", "syrac/storage.py",
            "syrac/method/__init__.py"} <= reached
    probe = {str(p.relative_to(REPO)) for p in code_of(REPO / "stages/probe.py")}  # read-outs found at run time
    assert {f"syrac/method/readouts/{name}.py" for name in ("__init__", "ridge", "nonnegative")} <= probe


def test_a_stage_runs_the_syrac_of_its_own_checkout(tmp_path):
    """A queued or ``--temp`` `dvc exp run` works in a copy of the repository. Run as dvc.yaml runs it,
    a stage imports that copy's syrac; run by its path, it would import the installed one (an editable
    install points at the original checkout), whose code may differ from the deps DVC hashed."""
    for name in ("stages", "syrac"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "syrac/__init__.py").write_text("raise SystemExit(7)  # this copy's syrac was imported\n")
    script = script_of(STAGES["evaluate"]).relative_to(REPO)
    as_dvc_runs_it = subprocess.run([sys.executable, "-m", f"stages.{script.stem}", "--help"], cwd=tmp_path,
                                    capture_output=True)
    by_path = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True)
    assert as_dvc_runs_it.returncode == 7
    assert by_path.returncode != 7


def cmd_paths(stage: dict) -> dict[str, str]:
    """``--name path`` pairs of a stage's cmd."""
    tokens = str(stage["cmd"]).split()
    return {flag[2:]: path for flag, path in zip(tokens, tokens[1:]) if flag.startswith("--")}


def declared(entries) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in entries}


@pytest.mark.parametrize("name", STAGES)
def test_a_cmd_hands_its_script_exactly_the_stage_s_data_deps_and_outs(name):
    stage = STAGES[name]
    handed = set(cmd_paths(stage).values())
    deps, outs = declared(stage.get("deps", [])), declared(stage.get("outs", []))
    data_deps = {d for d in deps if not d.startswith(("stages/", "syrac/")) and d not in ("data/checked", "datasets")}
    work_folders = {p for p in handed if p.startswith("checkpoints/")}  # resumable state, never an output
    assert handed - work_folders - deps - outs == set(), "paths in the cmd that are neither deps nor outs"
    assert (data_deps | outs) - handed == set(), "deps or outs that the cmd does not hand to its script"


def test_every_stage_script_takes_its_paths_by_name():
    for name, stage in STAGES.items():
        assert cmd_paths(stage), f"{name}: no --name path in its cmd"


def declared_params(stage: dict) -> list[str]:
    """A stage's params keys; "" for the whole file (``params.yaml:``)."""
    keys = []
    for entry in stage.get("params", []):
        keys += [""] if isinstance(entry, dict) else [entry]
    return keys


def stage_of(script: str, argv: list[str]) -> str:
    """The stage whose cmd runs ``script`` with these arguments (end_to_end.py serves two stages)."""
    matches = [name for name, stage in STAGES.items()
               if script_of(stage).name == script and str(stage["cmd"]).split()[-len(argv):] == argv]
    assert len(matches) == 1, (script, argv, matches)
    return matches[0]


def test_every_param_a_stage_reads_is_among_its_params(tiny_repo):
    records = [json.loads(line) for line in (tiny_repo.parent / PARAMS_READ).read_text().splitlines()]
    stages = {}  # each process appends a line per key it reads first; a stage's worker processes too
    for r in records:
        stages.setdefault(stage_of(r["script"], r["argv"]), set()).update(r["reads"])
    assert set(stages) == set(STAGES) - {"check"}  # every stage ran and recorded (check reads the whole file)
    for name, reads in stages.items():
        declared = declared_params(STAGES[name])
        undeclared = [key for key in reads
                      if not any(d == "" or key == d or key.startswith((d + ".", d + "[")) for d in declared)]
        assert undeclared == [], f"add these to the params of stage {name} in dvc.yaml"
    assert "pretrain.frozen_stages" in stages["pretrain_intra"]  # the recorder sees reads deep in the library


def _read_min_person_px(cfg: config.Config) -> None:
    assert cfg.world.min_person_px > 0


def test_a_param_read_only_in_a_worker_process_is_recorded(tmp_path, monkeypatch):
    """Stages render images in a pool of forked workers, which exit without atexit hooks."""
    monkeypatch.setattr(config, "_recording", None)  # restored after the test: no other test records
    monkeypatch.setenv("SYRAC_PARAMS_READ", str(tmp_path / "reads.jsonl"))
    cfg = config.load_for_stage(REPO / "params.yaml")
    cfg.seed  # noqa: B018  (a read in this process)
    worker = multiprocessing.get_context("fork").Process(target=_read_min_person_px, args=(cfg,))
    worker.start()
    worker.join()
    assert worker.exitcode == 0
    reads = [key for line in (tmp_path / "reads.jsonl").read_text().splitlines() for key in json.loads(line)["reads"]]
    assert sorted(reads) == ["seed", "world.min_person_px"]


def test_every_plot_dvc_yaml_declares_is_a_stage_output_or_a_committed_file():
    """A top-level plot reads a stage's output (the embedded run) or a committed file (metrics/real's
    per-seed counts); a custom template is a Vega-Lite spec under .dvc/plots with DVC's anchors."""
    dvc_yaml = yaml.safe_load((REPO / "dvc.yaml").read_text())
    outputs = {next(iter(out)) if isinstance(out, dict) else out
               for stage in dvc_yaml["stages"].values() for out in stage.get("outs", [])}
    for plot in dvc_yaml["plots"]:
        name, spec = next(iter(plot.items())) if isinstance(plot, dict) else (plot, {})
        files = list(spec["y"]) if isinstance(spec.get("y"), dict) else [name]
        for path in files:
            assert path in outputs or any(path.startswith(f"{o}/") for o in outputs) or (REPO / path).is_file(), path
        if spec.get("template") not in (None, "scatter", "linear", "simple", "smooth"):
            template = json.loads((REPO / ".dvc/plots" / f"{spec['template']}.json").read_text())
            text = json.dumps(template)
            assert all(anchor in text for anchor in ("<DVC_METRIC_DATA>", "<DVC_METRIC_X>", "<DVC_METRIC_Y>"))
