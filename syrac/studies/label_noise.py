"""The label-noise study (not in the paper): does rank pre-training protect the probe from noisy labels?

The paper argues that the noisy counting set hurts a network trained on it directly, while a probe on
rank-pretrained features only has to map a good ordering to numbers. Sweep the simulator's label
noise (the coefficient of variation of the true count around the prompted N) as experiments, then
collect the ablation's MAE for every noise level:

    dvc exp run --queue -S 'counting.count_cv=0,0.2,0.8,1.2' && dvc queue start -j 1
    python -m syrac.studies.label_noise      # after `dvc queue status` shows them done

Writes ``metrics/label_noise.json`` ({count_cv: {strategy: {benchmark: mae}}}, the workspace
included) and ``plots/label_noise.png``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from syrac import storage
from syrac.figures import plt, save_figure
from syrac.method.model import machine

STRATEGIES = ("synthetic_rank", "no_pretraining", "intra_image_rank", "random_init_features", "imagenet_features")
NOISE = "counting.count_cv"


def _value(row: dict, suffix: str):
    """A column of a flattened ``dvc.api.exp_show`` row, whatever file prefix DVC gave it."""
    return next((v for k, v in row.items() if k == suffix or k.endswith(":" + suffix)), None)


def param_keys(params: dict, prefix: str = "") -> list[str]:
    """Flattened keys of params.yaml, as ``dvc exp show`` names its parameter columns."""
    keys = []
    for key, value in params.items():
        keys += param_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
    return keys


def collect(rows: list[dict], benchmarks: list[str], params: list[str] = ()) -> dict[str, dict[str, dict[str, float]]]:
    """MAE of each strategy on each benchmark, per label-noise level; failed or queued runs are left out,
    and so are runs that differ from the workspace in any parameter of ``params`` but the noise
    level (a seed sweep in the same experiment table is not a noise level)."""
    workspace = next((row for row in rows if row.get("rev") == "workspace"), {})
    held_fixed = [key for key in params if key != NOISE]
    study = {}
    for row in rows:
        if any(_value(row, key) != _value(workspace, key) for key in held_fixed):
            continue
        cv = _value(row, NOISE)
        cells = {s: {b: _value(row, f"{s}.{b}.mae") for b in benchmarks} for s in STRATEGIES}
        cells = {s: v for s, v in cells.items() if all(isinstance(x, (int, float)) for x in v.values())}
        if isinstance(cv, (int, float)) and cells:
            study[f"{float(cv):g}"] = cells
    return dict(sorted(study.items(), key=lambda item: float(item[0])))


def plot(path: Path, study: dict) -> None:
    levels = [float(cv) for cv in study]
    benchmarks = list(next(iter(next(iter(study.values())).values())))
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), dpi=110, squeeze=False)
    for ax, bench in zip(axes[0], benchmarks):
        for strategy in STRATEGIES:
            points = [(cv, study[key][strategy][bench]) for cv, key in zip(levels, study) if strategy in study[key]]
            if points:
                ax.plot(*zip(*points), marker="o", label=strategy.replace("_", " "))
        ax.set(title=bench, xlabel="label noise (CV of true count around prompted N)", ylabel="MAE")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main() -> int:
    import dvc.api

    benchmarks = list(storage.read_json("metrics/eval.json"))
    params = param_keys(yaml.safe_load(Path("params.yaml").read_text()))
    study = collect(dvc.api.exp_show(), benchmarks, params)
    if len(study) < 2:
        print("fewer than two label-noise levels with results; run the experiments first:\n" + __doc__.split("\n\n")[2],
              file=sys.stderr)
        return 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    # the experiments ran on this machine at this commit (label_noise.json keeps both: the study is not a stage)
    storage.write_json("metrics/label_noise.json", {"levels": study, "machine": machine(), "commit": commit})
    plot(Path("plots/label_noise.png"), study)
    for cv, cells in study.items():
        print(
            f"count_cv {cv}: " + "  ".join(f"{s} {'/'.join(f'{v:.0f}' for v in c.values())}" for s, c in cells.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
