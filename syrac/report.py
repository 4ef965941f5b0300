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


def tables(metrics_dir: Path) -> str:
    evaluation = read_json(metrics_dir / "eval.json")
    sweep = read_json(metrics_dir / "patch_sweep.json")
    pretrain = read_json(metrics_dir / "pretrain.json")
    umap = read_json(metrics_dir / "umap.json")
    names = list(evaluation)
    k = next(iter(evaluation.values()))["patches"]
    header = ["method"] + [f"{n} {m}" for n in names for m in ("MAE", "MSE")] + [f"{n} Spearman" for n in names]
    main = _table(header, [
        [f"SYRAC ({k}x{k})"] + [f"{evaluation[n][m]:.1f}" for n in names for m in ("mae", "mse")]
        + [f"{evaluation[n]['spearman']:.3f}" for n in names],
        ["always the mean noisy label"] + [x for n in names for x in (f"{evaluation[n]['mean_label_baseline_mae']:.1f}", "-")]
        + ["-" for _ in names],
    ])
    grids = sorted({g for n in names for g in sweep[n]}, key=int)
    patch = _table(["K"] + [f"{n} {m}" for n in names for m in ("MAE", "MSE")],
                   [[g] + [f"{sweep[n][g][m]:.1f}" for n in names for m in ("mae", "mse")] for g in grids])
    notes = (f"Rank pre-training: held-out ranking accuracy {pretrain['holdout_ranking_accuracy']:.3f} "
             f"(best of {pretrain['epochs_run']} epochs: {pretrain['best_epoch']}). Spearman correlation of the "
             "rank head's proxy count with the true count: "
             + ", ".join(f"{n} {umap[n]['spearman_proxy_vs_true']:.3f}" for n in names) + ".")
    return f"Counting (MSE is the root mean squared error):\n\n{main}\n\nPatch grid K (paper Table 2):\n\n{patch}\n\n{notes}\n"


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
