"""Results tables for the README, made from metrics/ (never typed by hand).

    python -m syrac.report                 # print the tables
    python -m syrac.report --readme README.md   # rewrite the block between the results markers
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from syrac.storage import read_json, write_bytes

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


STRATEGY_NAMES = {
    "no_pretraining": "no pre-training (trained end to end on the noisy counts)",
    "random_init_features": "random-init features (no ImageNet weights offline)",
    "imagenet_features": "ImageNet features",
    "intra_image_rank": "intra-image ranking (Liu et al. 2018)",
    "synthetic_rank": "**synthetic ranking (SYRAC)**",
    "oracle": "oracle: probe on benchmark labels (uses labels)",
}


def _mae_mse(row: dict, names: list[str]) -> list[str]:
    return [f"{row[n][m]:.1f}" for n in names for m in ("mae", "mse")]


def tables(metrics_dir: Path) -> str:
    evaluation = read_json(metrics_dir / "eval.json")
    sweep = read_json(metrics_dir / "patch_sweep.json")
    pretrain = read_json(metrics_dir / "pretrain.json")
    umap = read_json(metrics_dir / "umap.json")
    ablation = read_json(metrics_dir / "ablation.json")
    names = list(evaluation)
    grids = ", ".join(f"{n} {evaluation[n]['patches']}x{evaluation[n]['patches']}" for n in names)
    mae_mse_header = [f"{n} {m}" for n in names for m in ("MAE", "MSE")]
    main = _table(["method"] + mae_mse_header + [f"{n} Spearman" for n in names], [
        [f"SYRAC ({grids} patches)"] + _mae_mse(evaluation, names) + [f"{evaluation[n]['spearman']:.3f}" for n in names],
        ["always the mean noisy label"] + [x for n in names for x in (f"{evaluation[n]['mean_label_baseline_mae']:.1f}", "-")]
        + ["-" for _ in names],
        [STRATEGY_NAMES["oracle"]] + _mae_mse(ablation["oracle"], names) + ["-" for _ in names],
    ])
    sizes = sorted({g for n in names for g in sweep[n]}, key=int)
    patch = _table(["K"] + mae_mse_header,
                   [[g] + [f"{sweep[n][g][m]:.1f}" for n in names for m in ("mae", "mse")] for g in sizes])
    strategies = _table(["pre-training"] + mae_mse_header,
                        [[STRATEGY_NAMES.get(s, s)] + _mae_mse(row, names) for s, row in ablation.items()])
    notes = (f"Rank pre-training: held-out ranking accuracy {pretrain['holdout_ranking_accuracy']:.3f} "
             f"(best of {pretrain['epochs_run']} epochs: {pretrain['best_epoch']}). Spearman correlation of the "
             "rank head's proxy count with the true count: "
             + ", ".join(f"{n} {umap[n]['spearman_proxy_vs_true']:.3f}" for n in names) + ".")
    text = (f"Counting, in the shape of the paper's Table 1 (MSE is the root mean squared error):\n\n{main}\n\n"
            f"Patch grid K (Table 2):\n\n{patch}\n\nPre-training ablation, same probe and patches ({grids}) "
            f"(Table 3):\n\n{strategies}\n\n{notes}\n")
    if (metrics_dir / "label_noise.json").is_file():
        study = read_json(metrics_dir / "label_noise.json")
        compared = ("synthetic_rank", "no_pretraining")
        noise = _table(["label noise (CV)"] + [f"{STRATEGY_NAMES[s].strip('*').split(' (')[0]}: {n} MAE"
                                               for s in compared for n in names],
                       [[cv] + [f"{cells[s][n]:.1f}" for s in compared for n in names] for cv, cells in study.items()])
        text += f"\nLabel-noise study (`python -m syrac.label_noise`, not in the paper):\n\n{noise}\n"
    return text


def update_readme(readme: Path, metrics_dir: Path) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: add the markers {START} and {END} where the tables go")
    block = f"{START}\n{tables(metrics_dir)}{END}"
    write_bytes(readme, re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    parser.add_argument("--readme", type=Path, help="rewrite the results block of this file")
    args = parser.parse_args()
    if args.readme:
        update_readme(args.readme, args.metrics)
    else:
        print(tables(args.metrics))


if __name__ == "__main__":
    main()
