"""Seeds as part of the result: each seed's scores, their mean and range, the params file's seed run last."""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from repo import REPO, dvc, run

from syrac import storage
from syrac.tools import seeds


def split_metrics(seed: int, offset: float = 0.0) -> dict:
    return {"mae": 10.0 + seed + offset, "mse": 20.0 + 2 * seed, "spearman": 0.5 + seed / 10, "patches": 1 + seed,
            "n_images": 5, "tiling": {"mae": 9.0 + seed + offset, "mse": 15.0, "spearman": 0.5,
                                      "finest_grid": {"1": 4 - seed, "2": 1 + seed}}}


def fake_metrics(seed: int) -> dict:
    return {"eval": {"b": {**split_metrics(seed), "development": split_metrics(seed, 100.0)}},
            "ablation": {"synthetic_rank": {"b": {"mae": 1.0 * seed, "mse": 3.0}}},
            "review_probes": {split: {"b": {"ridge_prompted": split_metrics(seed, offset),
                                            "nonnegative_prompted": split_metrics(seed, offset + 1)}}
                              for split, offset in (("test", 0.0), ("development", 100.0))},
            "sparse_scenes": {"b": {"0": {"crops": 4, "mean_true": 0.0, "mean_count": 2.0 * seed, "mae": 2.0 * seed},
                                    "6-20": {"crops": 0, "mean_true": None, "mean_count": None, "mae": None}}}}


@pytest.fixture
def params(tmp_path, monkeypatch):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["seed"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "params.yaml"


def test_every_seed_runs_the_params_seed_last_and_the_mean_is_written(params, monkeypatch):
    order = []
    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: order.append(seed) or fake_metrics(seed))
    assert seeds.main(["--seeds", "0", "1", "2", "--out", "out/seeds.json"]) == 0
    assert order == [0, 2, 1]
    result = json.loads((params.parent / "out/seeds.json").read_text())
    assert result["b"]["seeds"]["2"] == {"mae": 12.0, "mse": 24.0, "spearman": 0.7, "patches": 3}
    assert result["b"]["mean"] == pytest.approx({"mae": 11.0, "mse": 22.0, "spearman": 0.6})
    assert result["b"]["min"]["mae"] == 10.0 and result["b"]["max"]["spearman"] == pytest.approx(0.7)
    assert result["ablation"]["synthetic_rank"]["b"]["mean"] == {"mae": 1.0, "mse": 3.0}
    assert result["b"]["tiling"]["mean"] == pytest.approx({"mae": 10.0, "mse": 15.0, "spearman": 0.5})
    assert result["b"]["tiling"]["seeds"]["2"]["finest_grid"] == {"1": 2, "2": 3}
    assert result["sparse_scenes"]["b"]["0"] == {"seeds": {"0": 0.0, "1": 2.0, "2": 4.0}, "mean": 2.0, "mean_true": 0.0}
    assert result["sparse_scenes"]["b"]["6-20"]["mean"] is None
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]  # results are per CPU type: it is named
    # the development part of the training split, and every read-out on both splits, as the test split
    assert (
        result["b"]["development"]["mean"]["mae"] == 111.0
        and result["b"]["development"]["tiling"]["min"]["mae"] == 109.0
    )
    readouts = result["readouts"]
    assert readouts["development"]["b"]["nonnegative_prompted"]["tiling"]["mean"]["mae"] == 111.0
    assert readouts["test"]["b"]["ridge_prompted"]["max"]["mae"] == 12.0


def test_the_headline_runs_leave_table_3_out(params, monkeypatch):
    calls = []
    monkeypatch.setattr(seeds, "latest_experiment", lambda seed: f"refs/exps/ab/cd/seed{seed}")
    monkeypatch.setattr(seeds.subprocess, "run", lambda command, check: calls.append(command))
    monkeypatch.setattr(seeds, "_workspace_file", lambda path: json.dumps(fake_metrics(0)[Path(path).stem])
                        if path.startswith("metrics/") else None)
    seeds.main(["--seeds", "1", "--headline"])
    assert calls == [["dvc", "exp", "run", "-S", "seed=1", "evaluate", "review_probes", "sparse_scenes"]]
    result = json.loads((params.parent / "metrics/seeds.json").read_text())
    assert "ablation" not in result
    assert list(result) == ["b", "readouts", "sparse_scenes", "machine", "minutes_per_seed", "experiments"]
    assert result["minutes_per_seed"]["1"] >= 0
    assert result["experiments"] == {"1": "refs/exps/ab/cd/seed1"}  # the experiment the seed ran as


def test_a_lever_run_records_what_it_changed_and_the_scale_figures_where_a_run_wrote_them(params, monkeypatch):
    def scaled(seed: int) -> dict:
        metrics = fake_metrics(seed)
        zoom = {"zoom_in": 1.0, "zoom_out": 2.0 + seed}
        metrics["eval"]["b"]["development"].update(total_ratio=0.5 + seed / 10, zoom=zoom)
        return metrics

    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: scaled(seed))
    seeds.main(["--seeds", "0", "2", "--lever", "pretrain.scale_relations: 1.0"])
    result = json.loads((params.parent / "metrics/seeds.json").read_text())
    assert result["lever"] == "pretrain.scale_relations: 1.0"
    development = result["b"]["development"]
    assert development["mean"]["total_ratio"] == pytest.approx(0.6) and development["max"]["zoom_out"] == 4.0
    assert "total_ratio" not in result["b"]["mean"]  # the test split's metrics here predate it


def test_a_seed_outside_the_list_is_run_last_to_restore_the_workspace(params, monkeypatch):
    order = []
    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: order.append(seed) or fake_metrics(seed))
    seeds.main(["--seeds", "3", "4"])
    assert order == [3, 4, 1]
    assert list(json.loads((params.parent / "metrics/seeds.json").read_text())["b"]["seeds"]) == ["3", "4"]


@pytest.mark.parametrize("given", [["0", "0"], ["-1"], [str(2**32)]])
def test_impossible_seeds_are_refused_before_anything_runs(params, monkeypatch, capsys, given):
    monkeypatch.setattr(seeds, "run_seed", lambda *_: pytest.fail("ran"))
    with pytest.raises(SystemExit) as stop:
        seeds.main(["--seeds", *given])
    assert stop.value.code == 2 and "seeds must be distinct integers" in capsys.readouterr().err


def test_the_seed_ensemble_scores_the_mean_of_the_seeds_counts(params, monkeypatch):
    """Two seeds that err in opposite directions: each is 2 off per image, their mean is exact."""
    counts = {0: (8.0, 22.0), 1: (12.0, 18.0)}

    def with_predictions(seed: int) -> dict:
        rows = [{"image": image, "true_count": str(true), "predicted_count": str(count), "tiled_count": str(count + 1),
                 "tiling": "1"} for image, true, count in zip(("a.jpg", "b.jpg"), (10, 20), counts[seed])]
        return {**fake_metrics(seed), "predictions": {"b": {"test": rows, "development": rows[::-1]}}}

    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: with_predictions(seed))
    seeds.main(["--seeds", "0", "1"])
    result = json.loads((params.parent / "metrics/seeds.json").read_text())
    for ensemble in (result["b"]["ensemble"], result["b"]["development"]["ensemble"]):
        assert ensemble["mae"] == 0.0 and ensemble["seeds"] == 2 and ensemble["spearman"] == pytest.approx(1.0)
        assert ensemble["tiling"]["mae"] == 1.0  # each seed's tiled count is 1 above its count at K
    one, other = with_predictions(0)["predictions"]["b"]["test"], with_predictions(1)["predictions"]["b"]["test"]
    assert seeds.seed_ensemble([one, other[:1]]) is None  # not the same images
    redrawn = [{**row, "true_count": str(int(row["true_count"]) + 3)} for row in other]  # a simulator's new scene
    assert seeds.seed_ensemble([one, redrawn]) is None


def test_no_ensemble_where_each_seed_counted_other_scenes(params, monkeypatch):
    """A simulated benchmark is redrawn at each seed under the same file names: averaging its counts
    image by image would mix scenes, so the summary has no ensemble there."""
    def with_predictions(seed: int) -> dict:
        rows = [
            {
                "image": "a.jpg",
                "true_count": str(10 + seed),
                "predicted_count": "10",
                "tiled_count": "10",
                "tiling": "1",
            }
        ]
        return {**fake_metrics(seed), "predictions": {"b": {"test": rows}}}

    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: with_predictions(seed))
    seeds.main(["--seeds", "0", "1"])
    assert "ensemble" not in json.loads((params.parent / "metrics/seeds.json").read_text())["b"]


@pytest.fixture
def seeded_pipeline(tmp_path, monkeypatch):
    """A git and DVC repository whose one stage writes its seed to a cached model and a metric kept in git,
    which DVC's run cache never restores; seed 1 then seed 0 ran as experiments."""
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    (tmp_path / "train.py").write_text(textwrap.dedent("""\
        import json, yaml
        seed = yaml.safe_load(open("params.yaml"))["seed"]
        open("model.txt", "w").write(f"weights of seed {seed}")
        json.dump({"seed": seed}, open("score.json", "w"))
        open("runs.log", "a").write(f"{seed}\\n")
        """))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": f"{sys.executable} train.py", "deps": ["train.py"], "params": ["seed"],
        "outs": ["model.txt"], "metrics": [{"score.json": {"cache": False}}]}}}))
    (tmp_path / ".gitignore").write_text("runs.log\n")
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.org"}
    for name, value in {**identity, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}.items():
        monkeypatch.setenv(name, value)
    run(["git", "init", "-q"], tmp_path)
    dvc("init", "-q", cwd=tmp_path)
    run(["git", "add", "-A"], tmp_path)
    run(["git", "commit", "-qm", "pipeline"], tmp_path)
    monkeypatch.chdir(tmp_path)
    for seed in (1, 0):
        dvc("exp", "run", "-S", f"seed={seed}", cwd=tmp_path)
    return tmp_path


def test_reuse_restores_the_seeds_experiment_so_an_unchanged_stage_is_not_rerun(seeded_pipeline):
    """After another seed ran, the seed's experiment is put back and `dvc exp run` at that seed finds
    nothing to do."""
    tmp_path = seeded_pipeline
    assert (tmp_path / "model.txt").read_text() == "weights of seed 0"

    ref = seeds.latest_experiment(1)
    assert ref and ref.startswith("refs/exps/") and seeds.latest_experiment(7) is None
    seeds.restore_experiment(ref)
    assert (tmp_path / "model.txt").read_text() == "weights of seed 1" and storage.read_json(
        tmp_path / "score.json"
    ) == {"seed": 1}
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["seed"] == 0  # params and code are left alone
    dvc("exp", "run", "-S", "seed=1", cwd=tmp_path)
    assert (tmp_path / "runs.log").read_text().split() == ["1", "0"]  # seed 1 was not trained again


def test_reuse_from_starts_each_seed_from_the_named_experiment_and_refuses_another_seeds(seeded_pipeline,
                                                                                     monkeypatch, capsys):
    """A named experiment is found by its name and checked against the seed it is to stand for; the run
    records where each seed started and the experiment it ended as."""
    names = {seed: seeds.latest_experiment(seed).rsplit("/", 1)[1] for seed in (0, 1)}
    full = seeded_pipeline / "full_params.yaml"  # the repository's params at the pipeline's seed 0
    full.write_text(yaml.safe_dump({**yaml.safe_load((REPO / "params.yaml").read_text()), "seed": 0}))
    assert seeds.named_experiment(names[1], 1) == seeds.latest_experiment(1)
    with pytest.raises(SystemExit, match="ran at seed 1, not 0"):
        seeds.named_experiment(names[1], 0)
    with pytest.raises(SystemExit, match="0 DVC experiments are called 'no-such'"):
        seeds.named_experiment("no-such", 0)
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", "0", "1", "--reuse-from", names[0], "--params", str(full)])
    assert "one experiment per seed: 2 seeds, 1 experiments" in capsys.readouterr().err

    restored = []
    monkeypatch.setattr(seeds, "restore_experiment", restored.append)
    monkeypatch.setattr(seeds, "run_seed", lambda seed, _: fake_metrics(seed))
    assert seeds.main(["--seeds", "1", "0", "--reuse-from", names[1], names[0], "--out", "s.json",
                       "--params", str(full)]) == 0
    assert restored == [seeds.latest_experiment(1), seeds.latest_experiment(0)]  # the params file's seed last
    result = storage.read_json(seeded_pipeline / "s.json")
    assert result["started_from"] == {"1": seeds.latest_experiment(1), "0": seeds.latest_experiment(0)}
    assert result["experiments"] == result["started_from"]  # nothing new ran here: each seed ended where it began


def test_from_experiments_summarises_each_seeds_latest_experiment_and_runs_nothing(params, monkeypatch, capsys):
    """What each experiment's commit holds (metrics, the test split's per-image counts; no development
    counts where its evaluate wrote none) is read through git, never through a run."""
    def files(seed: int) -> dict[str, str]:
        written = {f"metrics/{name}.json": json.dumps(value) for name, value in fake_metrics(seed).items()}
        written["metrics/pretrain.json"] = json.dumps({"machine": {"cpu": "the experiments' CPU", "cores": 2}})
        written["plots/predictions/b.csv"] = (
            f"image,true_count,predicted_count,tiled_count,tiling\na.jpg,10,{8 + 4 * seed},10,1\n"
        )
        return written

    monkeypatch.setattr(seeds, "run_seed", lambda *_: pytest.fail("ran"))
    monkeypatch.setattr(seeds, "latest_experiment", lambda seed: f"refs/exps/ab/cd/seed{seed}" if seed < 2 else None)
    monkeypatch.setattr(seeds, "_experiment_file", lambda ref: files(int(ref[-1])).get)
    assert seeds.main(["--seeds", "0", "1", "--from-experiments"]) == 0
    result = json.loads((params.parent / "metrics/seeds.json").read_text())
    assert result["b"]["mean"]["mae"] == 10.5 and result["ablation"]["synthetic_rank"]["b"]["mean"]["mae"] == 0.5
    assert result["b"]["ensemble"]["mae"] == 0.0  # 8 and 12 read 10 together
    assert "ensemble" not in result["b"]["development"]  # no development counts were written
    assert result["experiments"] == {"0": "refs/exps/ab/cd/seed0", "1": "refs/exps/ab/cd/seed1"}
    assert result["machine"]["cpu"] == "the experiments' CPU"
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", "1", "2", "--from-experiments"])
    assert "no DVC experiment at seed 2" in capsys.readouterr().err
