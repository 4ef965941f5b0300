"""Run the whole pipeline at several training seeds and keep each seed's results and their mean.

    python -m syrac.seeds                      # seeds 0 1 2 -> metrics/seeds.json
    python -m syrac.seeds --seeds 0 1 2 --out metrics/real/seeds.json
    python -m syrac.seeds --headline           # the counter and the read-outs only, not Table 3's baselines

One seed is one draw of the sources, the pairs, the initial weights and the batches: a result that
holds at one seed of three is luck, so a lever is adopted only when its mean over seeds beats the
current mean. Each seed runs as a DVC experiment (``dvc exp run -S seed=N``, listed by ``dvc exp
show``); the seed in params.yaml runs last, so the workspace ends as it began.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from syrac import config, storage
from syrac.method.model import machine

SCORES = ("mae", "mse", "spearman")


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
    benchmarks = {name: _split_spread({seed: run["eval"][name] for seed, run in runs.items()}) for name in first["eval"]}
    for name, summary in benchmarks.items():  # the development part of the training split, where it was read
        if all("development" in run["eval"][name] for run in runs.values()):
            summary["development"] = _split_spread({seed: run["eval"][name]["development"] for seed, run in runs.items()})
    readouts = {split: {name: {readout: _split_spread({seed: run["review_probes"][split][name][readout]
                                                       for seed, run in runs.items()})
                               for readout in first["review_probes"][split][name]}
                        for name in first["review_probes"][split]}
                for split in ("test", "development")} if "review_probes" in first else {}
    ablation = {row: {name: aggregate({seed: run["ablation"][row][name] for seed, run in runs.items()})
                      for name in first["ablation"][row]}
                for row in first.get("ablation", {})}
    sparse = {name: {group: {"seeds": {seed: run["sparse_scenes"][name][group]["mean_count"] for seed, run in runs.items()},
                             "mean": _mean([run["sparse_scenes"][name][group]["mean_count"] for run in runs.values()]),
                             "mean_true": first["sparse_scenes"][name][group]["mean_true"]}
                      for group in first["sparse_scenes"][name]}
              for name in first["sparse_scenes"]}
    return {**benchmarks, **({"ablation": ablation} if ablation else {}), **({"readouts": readouts} if readouts else {}),
            "sparse_scenes": sparse}


def _split_spread(per_seed: dict[str, dict]) -> dict:
    """One split's scores at K (with K) and, where it was read, on the own tiling: every seed, mean and range."""
    summary = aggregate({seed: {**{s: run[s] for s in SCORES}, "patches": run["patches"]} for seed, run in per_seed.items()})
    if all("tiling" in run for run in per_seed.values()):  # each image on its own tiling
        summary["tiling"] = aggregate({seed: run["tiling"] for seed, run in per_seed.items()})
    return summary


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


HEADLINE_STAGES = ("evaluate", "review_probes", "sparse_scenes")  # the counter, the read-outs it is chosen among


def run_seed(seed: int, headline: bool) -> dict:
    """The DAG at ``seed`` as a DVC experiment (up to ``HEADLINE_STAGES`` with ``headline``), then the
    metrics it wrote."""
    subprocess.run(["dvc", "exp", "run", "-S", f"seed={seed}", *(HEADLINE_STAGES if headline else ())], check=True)
    names = ("eval", "review_probes", "sparse_scenes") + (() if headline else ("ablation",))
    return {name: storage.read_json(Path("metrics") / f"{name}.json") for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("metrics/seeds.json"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--headline", action="store_true",
                        help=f"run only up to {' and '.join(HEADLINE_STAGES)}: the counter, not Table 3's baselines")
    args = parser.parse_args(argv)
    current = config.load(args.params).seed
    bad = [s for s in args.seeds if not 0 <= s < config.SEED_LIMIT]
    if bad or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"seeds must be distinct integers in [0, {config.SEED_LIMIT}); got {args.seeds}")
    order = sorted(args.seeds, key=lambda s: s == current)  # the params file's seed last
    if current not in args.seeds:
        order.append(current)  # run it too, so the workspace ends at the params file's seed
    runs = {}
    for seed in order:
        print(f"seed {seed}: dvc exp run -S seed={seed}", file=sys.stderr)
        start = time.perf_counter()
        runs[seed] = run_seed(seed, args.headline)
        print(f"seed {seed}: {(time.perf_counter() - start) / 60:.1f} min", file=sys.stderr)
    storage.write_json(args.out, {**summarise({str(s): runs[s] for s in sorted(args.seeds)}), "machine": machine()})
    print(f"{args.out}: {len(args.seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
