"""Run the whole pipeline at several training seeds and keep each seed's results and their mean.

    python -m syrac.tools.seeds                      # seeds 0 1 2 -> metrics/seeds.json
    python -m syrac.tools.seeds --seeds 0 1 2 --out metrics/real/seeds.json
    python -m syrac.tools.seeds --headline           # the counter and the read-outs only, not Table 3's baselines
    python -m syrac.tools.seeds --reuse              # each seed from its latest experiment: only changed stages rerun
    python -m syrac.tools.seeds --reuse-from a b c   # seeds 0 1 2 from these named experiments (a read-out lever
                                                     # on a training lever's encoders)
    python -m syrac.tools.seeds --from-experiments   # summarise each seed's latest experiment, running nothing

One seed is one draw of the sources, the pairs, the initial weights and the batches: a result that
holds at one seed of three is luck, so a lever is adopted only when its mean over seeds beats the
current mean. Each seed runs as a DVC experiment (``dvc exp run -S seed=N``, listed by ``dvc exp
show``); the seed in params.yaml runs last, so the workspace ends as it began.

The seeds' per-image counts (``plots/predictions``) are also averaged into one answer, the *seed
ensemble*, scored beside them: what N times the training and N times the inference buy.

DVC's run cache skips no stage with metrics kept in git, so a read-out lever tried at three seeds
would retrain three encoders. ``--reuse`` first restores each seed's latest experiment (its lock
file and outputs) into the workspace; `dvc exp run` then reruns only what the change touches.
``--reuse-from`` names the experiment of each seed instead, where one repository holds several runs
of a seed (a reference and a training lever): a read-out lever is then measured on exactly the
encoders it names. Every run records the experiment each seed ended as, for its table's provenance.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from syrac import config, storage
from syrac.inference.evaluation import prediction_file, scores
from syrac.method.model import machine
from syrac.tools.profile import uncached_outputs

SCORES = ("mae", "mse", "spearman", "total_ratio", "zoom_in", "zoom_out")  # the last three where a run wrote them


def aggregate(per_seed: dict[str, dict]) -> dict:
    """{seed: {score: value}} -> {"seeds": ..., "mean": ..., "min": ..., "max": ...} for every score all seeds have."""
    names = [s for s in SCORES if all(s in values for values in per_seed.values())]
    table = {s: np.array([per_seed[seed][s] for seed in per_seed], dtype=float) for s in names}
    return {"seeds": per_seed, **{stat: {s: float(getattr(np, stat)(table[s])) for s in names}
                                  for stat in ("mean", "min", "max")}}


def summarise(runs: dict[str, dict]) -> dict:
    """Each seed's metrics (eval, ablation, review_probes, sparse scenes as the stages wrote them) -> per
    benchmark (test and development part), per ablation row and per read-out, every seed's scores and
    their mean and range."""
    first = next(iter(runs.values()))
    benchmarks = {
        name: split_spread({seed: run["eval"][name] for seed, run in runs.items()}) for name in first["eval"]
    }
    for name, summary in benchmarks.items():  # the development part of the training split, where it was read
        if all("development" in run["eval"][name] for run in runs.values()):
            summary["development"] = split_spread(
                {seed: run["eval"][name]["development"] for seed, run in runs.items()}
            )
        for split, where in (("test", summary), ("development", summary.get("development"))):
            readings = [run.get("predictions", {}).get(name, {}).get(split) for run in runs.values()]
            if where is not None and all(readings) and (ensemble := seed_ensemble(readings)) is not None:
                where["ensemble"] = ensemble
    readouts = {split: {name: {readout: split_spread({seed: run["review_probes"][split][name][readout]
                                                      for seed, run in runs.items()})
                               for readout in first["review_probes"][split][name]}
                        for name in first["review_probes"][split]}
                for split in ("test", "development")} if "review_probes" in first else {}
    ablation = {row: {name: aggregate({seed: run["ablation"][row][name] for seed, run in runs.items()})
                      for name in first["ablation"][row]}
                for row in first.get("ablation", {})}
    sparse = {
        name: {
            group: {
                "seeds": {seed: run["sparse_scenes"][name][group]["mean_count"] for seed, run in runs.items()},
                "mean": _mean([run["sparse_scenes"][name][group]["mean_count"] for run in runs.values()]),
                "mean_true": first["sparse_scenes"][name][group]["mean_true"],
            }
            for group in first["sparse_scenes"][name]
        }
        for name in first["sparse_scenes"]
    }
    return {
        **benchmarks,
        **({"ablation": ablation} if ablation else {}),
        **({"readouts": readouts} if readouts else {}),
        "sparse_scenes": sparse,
    }


def seed_ensemble(readings: list[list[dict]]) -> dict | None:
    """Every seed's per-image counts of one split (rows of ``prediction_file``) -> the scores of their
    mean, at K and on the own tiling; None where the seeds did not count the same images (a simulated
    benchmark is redrawn at each seed: same file names, other scenes, other true counts)."""
    by_image = [{row["image"]: row for row in rows} for rows in readings]
    images = sorted(by_image[0])
    if any(sorted(rows) != images or any(rows[i]["true_count"] != by_image[0][i]["true_count"] for i in images)
           for rows in by_image):
        return None
    true = np.array([float(by_image[0][i]["true_count"]) for i in images])
    mean = {column: np.mean([[float(rows[i][column]) for i in images] for rows in by_image], axis=0)
            for column in ("predicted_count", "tiled_count")}
    return {
        **scores(mean["predicted_count"], true),
        "seeds": len(readings),
        "tiling": scores(mean["tiled_count"], true),
    }


def split_spread(per_seed: dict[str, dict]) -> dict:
    """One split's scores at K (with K, and the label-free zoom ratios where they were read) and, where it
    was read, on the own tiling: every seed, mean and range."""
    summary = aggregate(
        {
            seed: {**{s: run[s] for s in SCORES if s in run}, **run.get("zoom", {}), "patches": run["patches"]}
            for seed, run in per_seed.items()
        }
    )
    if all("tiling" in run for run in per_seed.values()):  # each image on its own tiling
        summary["tiling"] = aggregate({seed: run["tiling"] for seed, run in per_seed.items()})
    return summary


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


HEADLINE_STAGES = ("evaluate", "review_probes", "sparse_scenes")  # the counter, the read-outs it is chosen among
PREDICTIONS_DIR = Path("plots/predictions")  # evaluate's --plots-dir in dvc.yaml


def seed_results(read: Callable[[str], str | None], headline: bool) -> dict:
    """The metrics and the per-image counts of one seed's run, through ``read`` (a repository path ->
    its text, None where the run wrote no such file)."""
    names = ("eval", "review_probes", "sparse_scenes") + (() if headline else ("ablation",))
    metrics = {name: json.loads(read(f"metrics/{name}.json")) for name in names}
    predictions = {
        name: {
            split: list(csv.DictReader(io.StringIO(text)))
            for split in ("test", "development")
            if (text := read(prediction_file(PREDICTIONS_DIR, name, split).as_posix())) is not None
        }
        for name in metrics["eval"]
    }
    return {**metrics, "predictions": predictions}


def _workspace_file(path: str) -> str | None:
    return Path(path).read_text() if Path(path).is_file() else None


def _experiment_file(ref: str) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        shown = _git("show", f"{ref}:{path}")
        return shown.stdout if shown.returncode == 0 else None
    return read


def run_seed(seed: int, headline: bool) -> dict:
    """The DAG at ``seed`` as a DVC experiment (up to ``HEADLINE_STAGES`` with ``headline``), then what it wrote."""
    subprocess.run(["dvc", "exp", "run", "-S", f"seed={seed}", *(HEADLINE_STAGES if headline else ())], check=True)
    return seed_results(_workspace_file, headline)


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)


def _experiment_refs() -> list[str]:
    """This repository's DVC experiments, newest first: refs/exps/<baseline>/<rest>/<name>, not exec/stash refs."""
    refs = _git("for-each-ref", "--sort=-committerdate", "--format=%(refname)", "refs/exps").stdout.split()
    return [ref for ref in refs if ref.count("/") == 4]


def _seed_of(ref: str) -> int | None:
    """The seed an experiment's params.yaml says it ran at."""
    shown = _git("show", f"{ref}:params.yaml")
    return (yaml.safe_load(shown.stdout) or {}).get("seed") if shown.returncode == 0 else None


def latest_experiment(seed: int) -> str | None:
    """The git ref of the newest DVC experiment of this repository whose params.yaml says ``seed``."""
    return next((ref for ref in _experiment_refs() if _seed_of(ref) == seed), None)


def named_experiment(name: str, seed: int) -> str:
    """The git ref of the DVC experiment called ``name`` (as `dvc exp show` lists it), which must have run
    at ``seed``: a read-out measured on another seed's encoder would be scored as this seed's."""
    refs = [ref for ref in _experiment_refs() if ref.rsplit("/", 1)[1] == name]
    if len(refs) != 1:
        raise SystemExit(f"--reuse-from: {len(refs)} DVC experiments are called {name!r}; name one of `dvc exp list`")
    ran_at = _seed_of(refs[0])
    if ran_at != seed:
        raise SystemExit(f"--reuse-from: experiment {name!r} ran at seed {ran_at}, not {seed}: "
                         "name them in --seeds order")
    return refs[0]


def restore_experiment(ref: str) -> None:
    """Put an experiment's lock file and outputs in the workspace, leaving code, params and git's
    index alone: git restores the uncached outputs, `dvc checkout` the cached ones."""
    paths = [
        "dvc.lock",
        *(p for p in uncached_outputs(Path("dvc.yaml")) if _git("cat-file", "-e", f"{ref}:{p}").returncode == 0),
    ]
    subprocess.run(["git", "restore", f"--source={ref}", "--worktree", "--", *paths], check=True)
    if subprocess.run(["dvc", "checkout", "--force"]).returncode != 0:
        print(f"{ref}: some cached outputs are gone; their stages will rerun", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("metrics/seeds.json"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--headline", action="store_true",
                        help=f"run only up to {' and '.join(HEADLINE_STAGES)}: the counter, not Table 3's baselines")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="start each seed from its latest DVC experiment, so only the stages a change touches rerun",
    )
    parser.add_argument("--reuse-from", nargs="+", metavar="EXPERIMENT",
                        help="like --reuse, but each seed (in --seeds order) from the DVC experiment of this name")
    parser.add_argument("--from-experiments", action="store_true",
                        help="run nothing: summarise the latest DVC experiment of each seed")
    parser.add_argument("--lever", default="", help="what this run changes against the adopted params (recorded in "
                                                    "--out, where the generated lever tables read it)")
    args = parser.parse_args(argv)
    lever = {"lever": args.lever} if args.lever else {}
    current = config.load(args.params).seed
    bad = [s for s in args.seeds if not 0 <= s < config.SEED_LIMIT]
    if bad or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"seeds must be distinct integers in [0, {config.SEED_LIMIT}); got {args.seeds}")
    if args.reuse_from and len(args.reuse_from) != len(args.seeds):
        parser.error(f"--reuse-from names one experiment per seed: {len(args.seeds)} seeds, "
                     f"{len(args.reuse_from)} experiments")
    starts = {seed: named_experiment(name, seed) for seed, name in zip(args.seeds, args.reuse_from or ())}
    if args.from_experiments:
        refs = {seed: latest_experiment(seed) for seed in args.seeds}
        if missing := [seed for seed, ref in refs.items() if ref is None]:
            parser.error(
                f"no DVC experiment at seed {', '.join(map(str, missing))}: run `python -m syrac.tools.seeds` first"
            )
        runs = {seed: seed_results(_experiment_file(ref), args.headline) for seed, ref in refs.items()}
        trained_on = json.loads(_experiment_file(refs[args.seeds[0]])("metrics/pretrain.json") or "{}").get("machine")
        return _write(
            args.out, runs,
            {"experiments": {str(seed): ref for seed, ref in refs.items()}, "machine": trained_on, **lever},
        )
    order = sorted(args.seeds, key=lambda s: s == current)  # the params file's seed last
    if current not in args.seeds:
        order.append(current)  # run it too, so the workspace ends at the params file's seed
    runs, minutes, ended_as = {}, {}, {}
    for seed in order:
        start = time.perf_counter()
        ref = starts.get(seed) or (latest_experiment(seed) if args.reuse or args.reuse_from else None)
        if ref:
            print(f"seed {seed}: from {ref}", file=sys.stderr)
            restore_experiment(ref)
        print(f"seed {seed}: dvc exp run -S seed={seed}", file=sys.stderr)
        runs[seed] = run_seed(seed, args.headline)
        ended_as[str(seed)] = latest_experiment(seed)
        minutes[str(seed)] = round((time.perf_counter() - start) / 60, 1)
        print(f"seed {seed}: {minutes[str(seed)]} min", file=sys.stderr)
    return _write(args.out, {seed: runs[seed] for seed in args.seeds},
                  {**lever, "minutes_per_seed": {str(seed): minutes[str(seed)] for seed in args.seeds},
                   "experiments": {str(seed): ended_as[str(seed)] for seed in args.seeds},
                   **({"started_from": {str(seed): ref for seed, ref in starts.items()}} if starts else {})})


def _write(out: Path, runs: dict[int, dict], extra: dict | None = None) -> int:
    """The summary of ``runs`` and the machine they ran on (``extra`` may name another)."""
    storage.write_json(
        out, {**summarise({str(s): runs[s] for s in sorted(runs)}), "machine": machine(), **(extra or {})}
    )
    print(f"{out}: {len(runs)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
