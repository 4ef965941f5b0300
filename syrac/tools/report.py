"""Results tables for the README, made from metrics/ (never typed by hand).

    python -m syrac.tools.report                                               # print the embedded run's tables
    python -m syrac.tools.report --block readme-embedded --readme README.md   # rewrite a page's block
    python -m syrac.tools.report --metrics metrics/real --block readme-real --readme README.md
    python -m syrac.tools.report --block results --readme docs/embedded-results.md
    python -m syrac.tools.report --metrics metrics/real --block real-results --readme docs/real-photographs.md
    python -m syrac.tools.report --metrics metrics/real --block review --readme docs/review.md   # the review's answers
    python -m syrac.tools.report --block scale --readme docs/count-scale.md    # the count-scale levers
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from syrac.method.readouts import READOUTS
from syrac.storage import read_json, write_bytes


def markers(block: str) -> tuple[str, str]:
    """The README comments between which a results block is generated."""
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


STRATEGY_NAMES = {
    "no_pretraining": "no pre-training (trained end to end on the noisy counts)",
    "random_init_features": "random-init features (the untrained encoder)",
    "imagenet_features": "ImageNet features (an untrained ImageNet encoder)",
    "intra_image_rank": "intra-image ranking (Liu et al. 2018)",
    "synthetic_rank": "**synthetic ranking (SYRAC)**",
    "synthetic_rank_fine_tuned": "SYRAC fine-tuned whole on the noisy counts",
    "syrac_counter": "SYRAC's counter, its own probe (params `probe`)",
    "oracle": "oracle: probe on benchmark labels (uses labels)",
}


PEER_NAMES = {"hog": "HOG people detector (OpenCV; trained on pedestrians)",
              "ssd_mobilenet_v2": "SSD-MobileNet-v2 person boxes (COCO), whole image + tiles"}


def _mae_mse(row: dict, names: list[str]) -> list[str]:
    return [f"{row[n][m]:.1f}" for n in names for m in ("mae", "mse")]


# The paper's own figures (its Tables 1-3, MAE / MSE), quoted beside ours for the real benchmarks.
PAPER_NAMES = {"shanghaitech_a": "SHA", "shanghaitech_b": "SHB", "jhu_crowd": "JHU", "ucf_qnrf": "QNRF"}
PAPER_TABLE_1 = {  # method: {benchmark: (MAE, MSE)}
    "SYRAC 2x2 (the paper)": {
        "SHB": (49.0, 60.3),
        "JHU": (194.0, 583.9),
        "SHA": (196.0, 295.2),
        "QNRF": (390.0, 697.5),
    },
    "CrowdCLIP (uses labels for early stopping)": {
        "SHB": (69.3, 85.8),
        "JHU": (213.7, 576.1),
        "SHA": (146.1, 236.3),
        "QNRF": (283.3, 488.7),
    },
    "CSS-CCNN": {"JHU": (217.6, 651.3), "SHA": (197.3, 295.9), "QNRF": (437.0, 722.3)},
}
PAPER_TABLE_2 = {"1": {"SHB": (38.9, 55.8), "JHU": (215.0, 654.3), "SHA": (259.5, 411.5), "QNRF": (392.6, 692.7)},
                 "2": {"SHB": (49.0, 60.3), "JHU": (194.0, 583.9), "SHA": (196.0, 295.2), "QNRF": (390.0, 697.5)},
                 "3": {"SHB": (85.8, 94.4), "JHU": (226.4, 584.6), "SHA": (239.6, 329.7), "QNRF": (355.5, 641.5)},
                 "4": {"SHB": (160.1, 166.8), "JHU": (267.8, 610.1), "SHA": (336.4, 453.2), "QNRF": (351.9, 611.3)}}
PAPER_TABLE_3 = {
    "no_pretraining": {"SHB": (113.6, 145.8), "JHU": (304.4, 778.7), "SHA": (372.6, 498.2), "QNRF": (671.0, 997.9)},
    "imagenet_features": {"SHB": (54.4, 89.9), "JHU": (287.5, 1077.5), "SHA": (243.1, 370.0), "QNRF": (535.6, 932.6)},
    "intra_image_rank": {"SHB": (59.9, 89.2), "JHU": (209.9, 619.9), "SHA": (226.0, 365.0), "QNRF": (486.1, 841.8)},
    "synthetic_rank": PAPER_TABLE_1["SYRAC 2x2 (the paper)"],
}


def _quoted(row: dict, names: list[str]) -> list[str]:
    """A row of the paper's figures under our benchmark columns ("-" where the paper has none)."""
    cells = [row.get(PAPER_NAMES.get(n, ""), None) for n in names]
    return [f"{c[i]:.1f}" if c else "-" for c in cells for i in (0, 1)]


def _counting_table(metrics_dir: Path, caption: str = "Counting") -> str:
    """Table 1: the counter beside the constants, the oracle and (for real benchmarks) the paper's figures."""
    evaluation = read_json(metrics_dir / "eval.json")
    ablation = read_json(metrics_dir / "ablation.json")
    names = list(evaluation)
    grids = ", ".join(f"{n} {evaluation[n]['patches']}x{evaluation[n]['patches']}" for n in names)
    dashes = ["-" for _ in names]

    def constant(which: str) -> list[str]:
        return [f"{evaluation[n][f'{which}_baseline_{m}']:.1f}" for n in names for m in ("mae", "mse")]

    rows = [
        [f"SYRAC ({grids} patches)"] + _mae_mse(evaluation, names) + [f"{evaluation[n]['spearman']:.3f}" for n in names]
    ]
    tiled = {n: evaluation[n]["tiling"] for n in names if "tiling" in evaluation[n]}
    if len(tiled) == len(names):  # metrics written before the per-image tiling have none
        rows.append(["SYRAC, each image on its own tiling (`syrac count`'s default)"] + _mae_mse(tiled, names)
                    + [f"{tiled[n]['spearman']:.3f}" for n in names])
    if (metrics_dir / "peers.json").is_file():  # off-the-shelf person detectors, measured in the same run
        peers = read_json(metrics_dir / "peers.json")
        rows += [[f"peer: {PEER_NAMES[p]}"] + _mae_mse({n: peers[n][p] for n in names}, names)
                 + [f"{peers[n][p]['spearman']:.3f}" for n in names] for p in peers[names[0]] if p != "syrac"]
    rows += [["always the mean noisy label"] + constant("mean_label") + dashes,
            ["always the training split's mean count (uses labels)"] + constant("train_mean") + dashes,
            [STRATEGY_NAMES["oracle"]] + _mae_mse(ablation["oracle"], names) + dashes]
    if any(n in PAPER_NAMES for n in names):
        rows += [[f"quoted: {method}"] + _quoted(row, names) + dashes for method, row in PAPER_TABLE_1.items()]
    table = _table(["method"] + _mae_mse_header(names) + [f"{n} Spearman" for n in names], rows)
    text = f"{caption}, in the shape of the paper's Table 1 (MSE is the root mean squared error):\n\n{table}\n"
    if len(tiled) == len(names):
        text += (
            "\nThe finest grid each image's own tiling reached: "
            + "; ".join(
                f"{n} " + ", ".join(f"{g}x{g} {count}" for g, count in tiled[n]["finest_grid"].items()) for n in names
            )
            + ".\n"
        )
    return text


def _mae_mse_header(names: list[str]) -> list[str]:
    return [f"{n} {m}" for n in names for m in ("MAE", "MSE")]


def _seed_spread(metrics_dir: Path, names: list[str]) -> str:
    """The headline and Table 3 at every seed, where ``python -m syrac.tools.seeds`` measured them."""
    if not (metrics_dir / "seeds.json").is_file():
        return ""
    seeds = read_json(metrics_dir / "seeds.json")
    text = f"{seeds_table(seeds, names)}\n"
    if "ablation" in seeds:
        text += f"\n{seeds_ablation_table(seeds, names)}\n"
    if "readouts" in seeds:
        text += f"\n{seeds_readouts_table(seeds, [n for n in names if n in PAPER_NAMES] or names)}\n"
    return text


def _read_outs(metrics_dir: Path, names: list[str]) -> str:
    """The sparse-scene read-out and the peers' speed, where they were measured."""
    text = ""
    if (metrics_dir / "sparse_scenes.json").is_file():
        text += f"\n{sparse_scenes_table(read_json(metrics_dir / 'sparse_scenes.json'))}\n"
    if (metrics_dir / "peers.json").is_file():
        peers = read_json(metrics_dir / "peers.json")
        speed = _table(
            ["images per second"] + names,
            [
                [PEER_NAMES.get(p, "SYRAC at the benchmark's K (`syrac count --patches K`, envelope included)")]
                + [f"{peers[n][p]['images_per_s']:.1f}" for n in names]
                for p in peers[names[0]]
            ],
        )
        text += ("\nSpeed on the same images, decoding included (SYRAC's in stage `peers`, the detectors' in stage "
                 f"`detect`, 2 CPU cores):\n\n{speed}\n")
    return text


def readme_embedded(metrics_dir: Path) -> str:
    """The README's embedded result: Table 1's shape for the committed run."""
    return _counting_table(metrics_dir)


def readme_real(metrics_dir: Path) -> str:
    """The README's photo result: the real benchmarks at every seed (mean and range)."""
    seeds = read_json(metrics_dir / "seeds.json")
    return seeds_table(seeds, [name for name in seeds if name in PAPER_NAMES])


def tables(metrics_dir: Path) -> str:
    evaluation = read_json(metrics_dir / "eval.json")
    sweep = read_json(metrics_dir / "patch_sweep.json")
    pretrain = read_json(metrics_dir / "pretrain.json")
    umap = read_json(metrics_dir / "umap.json")
    ablation = read_json(metrics_dir / "ablation.json")
    chosen = read_json(metrics_dir / "patches.json")
    names = list(evaluation)
    real = any(n in PAPER_NAMES for n in names)
    grids = ", ".join(f"{n} {evaluation[n]['patches']}x{evaluation[n]['patches']}" for n in names)
    mae_mse_header = _mae_mse_header(names)
    dashes = ["-" for _ in names]
    sizes = sorted({g for n in names for g in sweep[n]}, key=int)

    def marked(n: str, g: str) -> str:  # * the K counted with, ^ the label-free rule's choice
        return ("*" if int(g) == evaluation[n]["patches"] else "") + ("^" if int(g) == chosen[n]["auto_choice"] else "")

    patch = _table(
        ["K"] + mae_mse_header + [f"{n} Spearman" for n in names],
        [
            [g]
            + [f"{sweep[n][g][m]:.1f}{marked(n, g) if m == 'mae' else ''}" for n in names for m in ("mae", "mse")]
            + [f"{sweep[n][g]['spearman']:.3f}" for n in names]
            for g in sizes
        ]
        + (
            [
                [f"quoted: K = {g} (the paper)"] + _quoted(PAPER_TABLE_2[g], names) + dashes
                for g in sizes
                if g in PAPER_TABLE_2
            ]
            if real
            else []
        ),
    )
    strategy_rows = [[STRATEGY_NAMES.get(s, s)] + _mae_mse(row, names) for s, row in ablation.items()]
    if real:
        strategy_rows += [[f"quoted: {STRATEGY_NAMES[s].strip('*')} (the paper)"] + _quoted(row, names)
                          for s, row in PAPER_TABLE_3.items()]
    strategies = _table(["pre-training"] + mae_mse_header, strategy_rows)
    notes = (f"Rank pre-training: held-out ranking accuracy {pretrain['holdout_ranking_accuracy']:.3f} "
             f"(best of {pretrain['epochs_run']} epochs: {pretrain['best_epoch']}). Spearman correlation of the "
             "rank head's proxy count with the true count: "
             + ", ".join(f"{n} {umap[n]['spearman_proxy_vs_true']:.3f}" for n in names) + ".")
    if "machine" in pretrain:  # the figures repeat byte for byte on this kind of machine only
        m = pretrain["machine"]
        described = [m["cpu_family"]] if m.get("cpu_family") else []  # records before the family was kept
        precision = "bf16" if pretrain.get("precision") == "bf16" else "fp32"
        described += [f"{m['cores']} cores", precision, f"torch {m['torch']}"]
        notes += f" Trained on {m['cpu'] if m['device'] == 'cpu' else m['device']} ({', '.join(described)})."
    text = (f"{_counting_table(metrics_dir)}\n"
            f"Patch grid K (Table 2; * the K counted with, ^ the K that the label-free rule picks):\n\n{patch}\n\n"
            f"Pre-training ablation, same probe and patches ({grids}) "
            f"(Table 3):\n\n{strategies}\n\n{notes}\n")
    seed_tables = _seed_spread(metrics_dir, names)
    text += ("\n" if seed_tables else "") + seed_tables + _read_outs(metrics_dir, names)
    if (metrics_dir / "label_noise.json").is_file():
        recorded = read_json(metrics_dir / "label_noise.json")
        study, m = recorded["levels"], recorded["machine"]
        compared = ("synthetic_rank", "no_pretraining")
        noise = _table(["label noise (CV)"] + [f"{STRATEGY_NAMES[s].strip('*').split(' (')[0]}: {n} MAE"
                                               for s in compared for n in names],
                       [[cv] + [f"{cells[s][n]:.1f}" for s in compared for n in names] for cv, cells in study.items()])
        text += (
            "\nLabel-noise study (`python -m syrac.studies.label_noise`, not in the paper): its own experiments, at "
            f"commit {recorded['commit']} on {m['cpu']} ({m['cpu_family']}, {m['cores']} cores, torch {m['torch']}); "
            "its 0.4 row is this table's run only on the same machine and code:"
            f"\n\n{noise}\n"
        )
    return text


def sparse_scenes_table(sparse: dict) -> str:
    """Mean count of crops by the annotated heads they hold (stage ``sparse_scenes``)."""
    groups = list(next(iter(sparse.values())))

    def cell(values: dict) -> str:
        return (
            f"{values['mean_count']:.1f} (true {values['mean_true']:.1f}, {values['crops']})"
            if values["crops"]
            else "-"
        )

    rows = [[name] + [cell(sparse[name][g]) for g in groups] for name in sparse]
    return ("Sparse and empty scenes: crops of the test images holding few people, counted whole (stage "
            "`sparse_scenes`; mean count, in brackets the mean true count and the number of crops):\n\n"
            + _table(["benchmark"] + [f"{g} heads" for g in groups], rows))


def spread(s: dict, score: str, digits: int = 1) -> str:
    """One score over seeds as "mean (min to max)" (``syrac.tools.seeds.aggregate``'s summary)."""
    return f"{s['mean'][score]:.{digits}f} ({s['min'][score]:.{digits}f} to {s['max'][score]:.{digits}f})"


def seeds_table(seeds: dict, names: list[str]) -> str:
    """The headline at every seed (``python -m syrac.tools.seeds``): mean and range, and the K each seed's rule
    picked."""
    runs = list(seeds[names[0]]["seeds"])

    def row(label: str, s: dict, grids: str) -> list[str]:
        return [label, spread(s, "mae"), spread(s, "mse"), spread(s, "spearman", 3), grids]

    def ensemble_row(label: str, e: dict, grids: str) -> list[str]:
        return [
            f"{label}, ensemble of the {len(runs)} seeds",
            f"{e['mae']:.1f}",
            f"{e['mse']:.1f}",
            f"{e['spearman']:.3f}",
            grids,
        ]

    rows = []
    for name in (n for n in names if n in seeds):
        for split, label in ((seeds[name], name), (seeds[name].get("development"), f"{name}, development part")):
            if split:
                rows.append(row(label, split, ", ".join(str(split["seeds"][r]["patches"]) for r in runs)))
                if "tiling" in split:
                    rows.append(row(f"{label}, own tiling", split["tiling"], "per image"))
                if "ensemble" in split:  # the seeds' counts averaged image by image
                    rows.append(ensemble_row(label, split["ensemble"], "per seed"))
                    rows.append(ensemble_row(f"{label}, own tiling", split["ensemble"]["tiling"], "per image"))
    development = ("; the development part is the held-out fifth of each training split, where settings are chosen"
                   if any("development" in seeds[n] for n in names if n in seeds) else "")
    return (
        f"SYRAC at seeds {', '.join(runs)} (`python -m syrac.tools.seeds`; mean, in brackets the range"
        f"{development}):\n\n"
        + _table(["benchmark", "MAE", "MSE", "Spearman", "K per seed"], rows)
    )


LABEL_SETS = {"prompted": "on the prompted N", "rank_refined": "on rank-refined labels"}  # probe.labels
NONLINEAR_READOUTS = {"classification": "classifier over the prompted N",  # stage review_probes' other fits
                      "rank_head": "rank head, scale and offset fitted on the prompted N"}
RENAMED = {"prompted_labels": "ridge_prompted", "refined_labels": "ridge_rank_refined"}  # in metrics written before
# the non-negative read-out existed


def readout_name(key: str) -> str:
    """A read-out's label: ``<probe.form>_<probe.labels>`` names a linear read-out of
    ``syrac.method.readouts`` by its description; ``_consistent``: also fitted on the photos' self-consistency."""
    stripped = key.removesuffix("_consistent")
    base = RENAMED.get(stripped, stripped)
    form, _, labels = base.partition("_")
    name = (f"{READOUTS[form].description} {LABEL_SETS[labels]}" if form in READOUTS and labels in LABEL_SETS
            else NONLINEAR_READOUTS.get(base, base.replace("_", " ")))
    return name + (", + photo self-consistency" if stripped != key else "")


def seeds_readouts_table(seeds: dict, names: list[str]) -> str:
    """Every read-out of the same features at every seed (stage ``review_probes``): MAE mean and range
    on the development part, where a read-out is chosen, and on the test split, read for the report."""
    readouts = seeds["readouts"]
    runs = ", ".join(seeds[names[0]]["seeds"])
    columns = [(split, n, tiled) for n in names for split in ("development", "test") for tiled in (False, True)]
    rows = [[readout_name(r)] + [spread(readouts[split][n][r]["tiling"] if tiled else readouts[split][n][r], "mae")
                                 for split, n, tiled in columns]
            for r in readouts["development"][names[0]]]
    header = [f"{_short(n)} {'dev' if split == 'development' else 'test'} {'own tiling' if tiled else 'K'}"
              for split, n, tiled in columns]
    return (f"Read-outs of the same frozen features at seeds {runs} (stage `review_probes`; MAE mean, in brackets the "
            "range; *dev*: the development part of the training split, on which a read-out is adopted):\n\n"
            + _table(["read-out"] + header, rows))


def seeds_ablation_table(seeds: dict, names: list[str]) -> str:
    """Table 3 at every seed: each pre-training strategy's MAE, mean and range per benchmark."""
    rows = [[STRATEGY_NAMES.get(strategy, strategy)] + [spread(row[n], "mae") for n in names]
            for strategy, row in seeds["ablation"].items()]
    runs = ", ".join(seeds[names[0]]["seeds"])
    return (f"Table 3 at seeds {runs}, same probe and patches per seed (MAE mean, in brackets the range):\n\n"
            + _table(["pre-training"] + [f"{n} MAE" for n in names], rows))


def _short(name: str) -> str:
    return PAPER_NAMES.get(name, name)


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def review_tables(metrics_dir: Path, generation: Path = Path("perf/results/cpu/results.json")) -> str:
    """The answers to the paper's reviewers, from the review stages' metrics (README section
    "Questions from the paper's review")."""
    ranking = read_json(metrics_dir / "review_ranking.json")
    probes = read_json(metrics_dir / "review_probes.json")
    ablation = read_json(metrics_dir / "ablation.json")
    worst = read_json(metrics_dir / "review_worst_pairs.json")
    names = list(ranking["pair_accuracy"])
    header = [_short(n) for n in names]
    heads = list(ranking["pair_accuracy"][names[0]])
    bins = list(ranking["pair_accuracy"][names[0]][heads[0]])
    pairs = _table(
        ["rank head", "count ratio"] + header,
        [
            [h.replace("_", " "), b] + [f"{ranking['pair_accuracy'][n][h][b]['accuracy']:.3f}" for n in names]
            for h in heads
            for b in bins
        ]
        + [["pairs", b] + [str(ranking["pair_accuracy"][n][heads[0]][b]["pairs"]) for n in names] for b in bins],
    )
    worst_lines = "\n".join(
        f"- {_short(n)}: "
        + "; ".join(
            f"{w['more']} ({w['more_count']:.0f} people, proxy {w['more_proxy']:.1f}) "
            f"ranked below {w['fewer']} ({w['fewer_count']:.0f}, proxy {w['fewer_proxy']:.1f})"
            for w in worst[n][:2]
        )
        for n in names
        if worst[n]
    )
    edits = ranking["no_removal_edits"]
    kinds = {
        "photometric_no_removal": "photometric edit, nobody removed",
        "scene_no_removal": "simulator edit, nobody removed",
        "scene_removal": "simulator edit that removes people",
    }

    def cell(n: str, kind: str, field: str) -> str:
        if kind not in edits[n]:
            return "-"
        value = edits[n][kind][field]
        return _pct(value) if field == "relative_gap" else f"{value:.3f}"

    gaps = _table(["edit", "measure"] + header,
                  [[label, measure] + [cell(n, kind, field) for n in names]
                   for kind, label in kinds.items()
                   for measure, field in (("proxy gap (source - edit) / source", "relative_gap"),
                                          ("share ranked source > edit", "source_above_edit"))]
                  + [["simulator edit that removes people", "share of people removed"]
                     + [cell(n, "scene_removal", "removed_share") for n in names]])
    held = ranking.get("held_out_pairs")
    held_line = ("Held-out synthetic pairs of known counts: each source above its own edit "
                 f"{held['source_vs_own_edit']['accuracy']:.3f} ({held['source_vs_own_edit']['pairs']} pairs), "
                 f"sources among sources {held['source_vs_source']['accuracy']:.3f}, "
                 f"edits among edits {held['edit_vs_edit']['accuracy']:.3f}.") if held else ""
    frozen = _table(["network"] + [f"{h} {m}" for h in header for m in ("MAE", "MSE")],
                    [[STRATEGY_NAMES[s].strip("*")] + _mae_mse(ablation[s], names)
                     for s in ("no_pretraining", "synthetic_rank", "synthetic_rank_fine_tuned") if s in ablation])
    splits = [split for split in probes if split != "counting_set_labels"]  # test, development (or train_split)
    probe = _table(["read-out", "split"] + [f"{h} {m}" for h in header for m in ("MAE", "Spearman")],
                   [[readout_name(r), split.replace("_", " ")] + [f"{probes[split][n][r][m]:.{1 if m == 'mae' else 3}f}"
                                                                  for n in names for m in ("mae", "spearman")]
                    for split in splits for r in probes[split][names[0]]])
    labels = probes.get("counting_set_labels")
    label_line = (
        (
            "Against the simulated counting set's true counts (a read-out the simulator allows): the prompted "
            f"labels are off by MAE {labels['prompted']['mae']:.1f} (Spearman {labels['prompted']['spearman']:.3f}), "
            f"the refined labels by {labels['refined']['mae']:.1f} ({labels['refined']['spearman']:.3f})."
        )
        if labels
        else ""
    )
    text = (
        f"**1. Pair accuracy by count ratio** (stage `review_ranking`):\n\n{pairs}\n\n"
        f"Worst-ordered pairs (SYRAC's head; all in `metrics/review_worst_pairs.json`):\n{worst_lines}\n\n"
        f"**2. Edits that remove nobody** (stage `review_ranking`):\n\n{gaps}\n\n{held_line}\n\n"
        f"**3. Frozen or fine-tuned** (stage `fine_tune`, a row of `ablation`):\n\n{frozen}\n\n"
        f"**4 and 5. Other read-outs of the frozen features** (stage `review_probes`):\n\n{probe}\n\n{label_line}\n"
    )
    if generation.is_file() and "generation_cost" in read_json(generation):
        cost = read_json(generation)["generation_cost"]
        sd, sim = cost["stable_diffusion_2_1"], cost["embedded"]
        rows = [
            [
                "removal edit (ranking pair)",
                f"{sim['removal_edit_s'] * 1000:.1f} ms",
                f"{sd['edit']['per_image_s']:.0f} s ({sd['edit']['unet_steps']} UNet steps of "
                f"{sd['edit']['unet_step_s']:.1f} s)",
            ],
            [
                "counting image",
                f"{sim['counting_image_s'] * 1000:.1f} ms",
                f"{sd['counting_image']['per_image_s']:.0f} s ({sd['counting_image']['unet_steps']} UNet steps of "
                f"{sd['counting_image']['unet_step_s']:.1f} s)",
            ],
        ]
        text += (
            f"\n**6. Generation cost per image** (`python perf/run.py --only generation_cost`, "
            f"{read_json(generation)['device']}):\n\n"
            + _table(
                [
                    "synthetic image",
                    "embedded simulator",
                    f"Stable Diffusion 2.1, {sd['dtype']}, paper's size and steps",
                ],
                rows,
            )
            + "\n"
        )
    return text


# Each block and what fills it: the whole set of tables, the README's headline of a profile, the review's answers
def _nan_or(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _lever_split(run: dict, name: str, split: str, readout: str | None) -> dict:
    """One benchmark's split of a ``syrac.tools.seeds`` summary: the counter's own reading (``readout``
    None) or a read-out of ``review_probes``."""
    if readout is not None:
        return run["readouts"][split][name][readout]
    return run[name] if split == "test" else run[name]["development"]


def _spread_or_value(summary: dict) -> str:
    """MAE as "mean (min to max)" over several seeds, the value alone for one."""
    return spread(summary, "mae") if len(summary["seeds"]) > 1 else f"{summary['mean']['mae']:.1f}"


def _verdict(reference: bool, ahead: bool) -> str:
    """A lever table's last column: the reference row, or whether the row's development means are below it."""
    return "the reference" if reference else ("ahead on both" if ahead else "not ahead on both")


def levers_table(levers: list[tuple[str, dict, str | None]], names: list[str]) -> str:
    """Levers against their reference (the first row), each a (label, ``syrac.tools.seeds`` summary,
    read-out of ``review_probes`` or None for the counter's own reading). Per benchmark: the development
    part's MAE on the own tiling (mean and range over the seeds), its predicted/true total and the
    label-free zoom-out ratio (four half-size copies over one: 4 where a person reads the same at both
    sizes), then the test split's MAE, read for the report only. A lever is ahead when its development
    mean is below the reference's on every benchmark named."""
    def dev(run: dict, readout: str | None, name: str) -> dict:
        return _lever_split(run, name, "development", readout)

    reference, reference_readout = levers[0][1], levers[0][2]
    rows = []
    for i, (label, run, readout) in enumerate(levers):
        cells = []
        for name in names:
            split = dev(run, readout, name)
            cells += [_spread_or_value(split["tiling"]), _nan_or(split["tiling"]["mean"].get("total_ratio")),
                      _nan_or(split["mean"].get("zoom_out"))]
        cells += [_spread_or_value(_lever_split(run, name, "test", readout)["tiling"]) for name in names]
        ahead = all(
            dev(run, readout, n)["tiling"]["mean"]["mae"]
            < dev(reference, reference_readout, n)["tiling"]["mean"]["mae"]
            for n in names
        )
        rows.append([label] + cells + [_verdict(i == 0, ahead)])
    header = [f"{_short(n)} dev {what}" for n in names for what in ("MAE", "total", "zoom-out")]
    return _table(["lever"] + header + [f"{_short(n)} test MAE" for n in names] + ["development parts"], rows)


def restrict(summary, seeds: list[str]):
    """A ``syrac.tools.seeds`` summary read at some of its seeds only (every spread recomputed), so that
    a lever run at one seed is held against the reference's same seed."""
    from syrac.tools.seeds import aggregate

    per_seed = summary.get("seeds") if isinstance(summary, dict) else None
    if isinstance(per_seed, dict) and all(isinstance(v, dict) for v in per_seed.values()):
        rest = {key: restrict(value, seeds) for key, value in summary.items() if key not in ("seeds", "mean", "min",
                                                                                          "max", "ensemble")}
        return {**aggregate({s: summary["seeds"][s] for s in seeds}), **rest}
    if isinstance(summary, dict):
        return {key: restrict(value, seeds) for key, value in summary.items()}
    return summary


ZEN3_SCREENS = "real/levers/zen3_readout_screens_seeds"  # syrac.tools.readout_screen --combine of the seeds' screens
ZEN3_DEFAULT_SCREENS = "levers/zen3_default_readout_screens_seeds"
REMOVAL_SCREENS = "real/levers/removal_anchors_screens_seeds"  # the record's seeds, rerun on its Intel machine
ORACLE_SCREENS = "real/levers/oracle_screens_seeds"  # the same seeds with the labelled bound (--oracle)
# docs/count-scale.md: the count-scale study's levers, each (label, summary under metrics/, read-out or None);
# the first of each list is the reference, read at the seeds of the levers after it
SCALE_LEVERS = {
    "photos, three seeds": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            (
                "the counter before (photo crops; non-negative probe, rank-refined N)",
                "real/levers/before_scale_seeds",
                None,
            ),
            (
                "scale relations, weight 1; non-negative probe, rank-refined N",
                "real/levers/scale_relations_seeds",
                "nonnegative_rank_refined",
            ),
            (
                "**scale relations, weight 1; ridge probe, rank-refined N (adopted, then lever 9 on top)**",
                "real/levers/scale_relations_seeds",
                "ridge_rank_refined",
            ),
            (
                "scale relations, weight 1; rank head, scale and offset",
                "real/levers/scale_relations_seeds",
                "rank_head",
            ),
        ],
    ),
    "photos, one seed": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("the counter before, seed 0", "real/levers/before_scale_seeds", None),
            (
                "scale relations, weight 1; ridge probe, rank-refined N, seed 0",
                "real/levers/scale_relations_seeds",
                "ridge_rank_refined",
            ),
            (
                "scale relations, weight 3; ridge probe, rank-refined N, seed 0",
                "real/levers/scale_relations_weight3_seed0",
                "ridge_rank_refined",
            ),
            (
                "the adopted counter with a counting set up to N = 2000 (prompts 500, 1000, 2000 added), seed 0",
                "real/levers/counting_to_2000_seed0",
                None,
            ),
            (
                "the adopted counter with the counting set in the benchmarks' perspective view "
                "(counting.style: dense), seed 0",
                "real/levers/counting_dense_view_seed0",
                None,
            ),
            (
                "the adopted counter trained up to 15 epochs, the epoch of lowest held-out ranking loss kept "
                "(pretrain.select_on: loss, patience 2), seed 0",
                "real/levers/training_length_seeds",
                None,
            ),
            (
                "the adopted counter from ImageNet's EfficientNet-Lite0 (first 4 stages frozen), the profile's "
                "learning rate 3e-4, seed 0",
                "real/levers/imagenet_lite0_relations_seed0",
                None,
            ),
            (
                "the same at the paper's learning rate 5e-5, seed 0",
                "real/levers/imagenet_lite0_relations_paper_lr_seed0",
                None,
            ),
            (
                "the adopted counter with 60 scenes of photographed people per prompted N (counting.photo_people: "
                "60), seed 0",
                "real/levers/photo_people60_seed0",
                None,
            ),
            ("the same with 20 per N (counting.photo_people: 20), seed 0", "real/levers/photo_people20_seeds", None),
        ],
    ),
    "photographed people, three seeds, against the counter then adopted": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter then adopted** (renders only)", "real/levers/scale_relations_seeds", "ridge_rank_refined"),
            ("with 20 scenes of photographed people per prompted N (counting.photo_people: 20)",
             "real/levers/photo_people20_seeds", None),
            ("with 10 per N (counting.photo_people: 10)", "real/levers/photo_people10_seeds", None),
        ],
    ),
    "removal edits of the photos, three seeds, every row on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter then adopted**, rerun on the Intel machine", "real/levers/adopted_on_intel_seeds", None),
            ("with one inpainted copy of each photo ranked below it (pretrain.photo_removals: 1)",
             "real/levers/photo_removals_seeds", None),
            ("the same, read by its rank head (scale and offset)", "real/levers/photo_removals_seeds", "rank_head"),
            ("with the copy aimed at people: the detector's people first, regions up to the same share "
             "(pretrain.photo_removal_aim: people)", "real/levers/people_removals_seeds", None),
            ("the same, read by its rank head (scale and offset)", "real/levers/people_removals_seeds", "rank_head"),
            ("**the copy aimed at people, half the share inpainted (pretrain.photo_removal_area: 0.1; adopted)**",
             "real/levers/people_removals_area01_seeds", None),
            ("the same, read by its rank head (scale and offset)", "real/levers/people_removals_area01_seeds",
             "rank_head"),
        ],
    ),
    "the adopted copies' inpainting varied, three seeds, every row on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9: one copy of each photo, a tenth inpainted)",
             "real/levers/people_removals_area01_seeds", None),
            ("a twentieth of each copy inpainted (pretrain.photo_removal_area: 0.05)",
             "real/levers/people_removals_area005_seeds", None),
            ("0.15 of each copy inpainted (pretrain.photo_removal_area: 0.15)",
             "real/levers/people_removals_area015_seeds", None),
            ("four copies of each photo, the paper's four edits (pretrain.photo_removals: 4)",
             "real/levers/people_removals_four_seeds", None),
            ("each person drawn only where it keeps the copy within its tenth (pretrain.photo_removal_aim: "
             "people_within)", "real/levers/people_within_seeds", None),
        ],
    ),
    "lever 11 on photos, one seed, on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9)", "real/levers/people_removals_area01_seeds", None),
            ("with the counting set up to N = 1000 and the relative probe (on rank-refined N)",
             "real/levers/counting_to_1000_relative_seed1", None),
            ("the same features, the relative probe on the prompted N", "real/levers/counting_to_1000_relative_seed1",
             "relative_prompted"),
            ("the same features, the ridge probe on rank-refined N (the adopted read-out)",
             "real/levers/counting_to_1000_relative_seed1", "ridge_rank_refined"),
        ],
    ),
    "the authors' augmentations on the adopted counter (issue 43), three seeds, every row on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9)", "real/levers/people_removals_area01_seeds", None),
            ("with the authors' augmentations on top of the flips and brightness (pretrain.augmentations: authors)",
             "real/levers/authors_augmentations_lever9_seeds", None),
        ],
    ),
    "issue 43's levers on photos, one seed, on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9)", "real/levers/people_removals_area01_seeds", None),
            ("the stem kept as initialised, so a rank step skips its backward (pretrain.frozen_stages: 1)",
             "real/levers/frozen_stem_seed1", None),
            ("trained up to 15 epochs, the epoch of lowest held-out ranking loss kept (pretrain.epochs: 15, "
             "select_on: loss, patience: 2)", "real/levers/training_length_lever9_seed1", None),
        ],
    ),
    "read-outs screened on the adopted counter's features (syrac.tools.readout_screen), every row on the AMD Zen 3 "
    "machine in fp32": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9), rerun on the Zen 3 machine", ZEN3_SCREENS, "counter"),
            ("with 60 mosaics of the counting set's own images, each labelled the sum of its four (lever 16)",
             ZEN3_SCREENS, "mosaics_60"),
            ("with 420 such mosaics, as many as the counting set's images", ZEN3_SCREENS, "mosaics_420"),
            ("features divided by their spread in each domain: renders the counting set's, photos the development "
             "parts' cells' (item 6)", ZEN3_SCREENS, "standardised_scale"),
            ("the same, centred on each domain's mean too (CORAL's diagonal)", ZEN3_SCREENS, "standardised_full"),
        ],
    ),
    "the removal differences as anchors of the probe (lever 19), screened on the adopted counter's features "
    "(syrac.tools.readout_screen --removals), every row on the Intel machine": (
        ["shanghaitech_a", "shanghaitech_b"],
        [
            ("**the counter adopted** (lever 9), its seeds rerun", REMOVAL_SCREENS, "counter"),
            ("its probe times the one factor that reads the removed people nearest their number (least squares)",
             REMOVAL_SCREENS, "removals_rescale"),
            ("ridge on the counting set and the removal differences, at a hundredth of its weight",
             REMOVAL_SCREENS, "removals_0.01"),
            ("the same at a tenth of its weight", REMOVAL_SCREENS, "removals_0.1"),
            ("the same at its whole weight", REMOVAL_SCREENS, "removals_1"),
        ],
    ),
    "lever 16 in the embedded world, screened on the embedded default's features (syrac.tools.readout_screen), "
    "every row on the AMD Zen 3 machine in fp32": (
        ["sim_sparse", "sim_dense"],
        [
            ("**the embedded default** (lever 13), rerun on the Zen 3 machine", ZEN3_DEFAULT_SCREENS, "counter"),
            ("with 60 mosaics of the counting set's own images, each labelled the sum of its four",
             ZEN3_DEFAULT_SCREENS, "mosaics_60"),
            ("with 420 such mosaics", ZEN3_DEFAULT_SCREENS, "mosaics_420"),
        ],
    ),
    "embedded world, one seed, every row on the AMD machine": (
        ["sim_sparse", "sim_dense"],
        [
            ("the embedded default then, seed 0 (ridge probe, prompted N up to 200)", "levers/amd_default_before_seeds",
             None),
            ("scale relations on the rank head, weight 1", "levers/scale_relations_seed0", None),
            ("scale relations on every ReLU feature, weight 1", "levers/scale_relations_features_seed0", None),
            ("a counting set up to N = 2000 (prompts 500, 1000, 2000 added)", "levers/dense_counting_seed0", None),
            ("trained up to 15 epochs, the epoch of lowest held-out ranking loss kept (patience 2)",
             "levers/training_length_seed0", None),
        ],
    ),
    "embedded world, three seeds, every row on the Intel machine": (
        ["sim_sparse", "sim_dense"],
        [
            ("**the embedded default then** (prompts up to 200; ridge probe, prompted N)",
             "levers/intel_default_before_seeds", None),
            ("the same features, ridge probe on rank-refined N", "levers/intel_default_before_seeds",
             "ridge_rank_refined"),
            ("the same features, the relative probe (probe.form: relative)", "levers/intel_default_before_seeds",
             "relative_prompted"),
            ("a counting set up to N = 1000 (prompts 500 and 1000 added), ridge probe",
             "levers/counting_to_1000_relative_seeds", "ridge_prompted"),
            ("**a counting set up to N = 1000, the relative probe (adopted, then lever 12 on top)**",
             "levers/counting_to_1000_relative_seeds", None),
            ("the same, classifier over the prompted N", "levers/counting_to_1000_relative_seeds", "classification"),
            ("**lever 11, its tiling also splitting where the 2x2 cells read more (tiling.split_saturated; "
             "adopted, then lever 13 on top)**", "levers/split_saturated_seeds", None),
            ("**lever 12 down to the 4x4 grid, no cell under half the input on a side (tiling.finest: 4, "
             "tiling.min_cell: 0.5; adopted)**", "levers/min_cell_seeds", None),
            ("lever 13 with the counting set up to N = 2000 (2000 added)", "levers/counting_to_2000_relative_seeds",
             None),
        ],
    ),
    "embedded world, two seeds, every row on the AMD Zen 3 machine in fp32": (
        ["sim_sparse", "sim_dense"],
        [
            ("**the embedded default** (lever 13), rerun on the Zen 3 machine", "levers/zen3_default_seeds", None),
            ("with the scale relations on the rank head, weight 1 (pretrain.scale_relations: 1.0, the photo "
             "profile's)", "levers/zen3_scale_relations_seeds", None),
        ],
    ),
}
EMBEDDED_DEFAULT_SEEDS = "levers/min_cell_seeds"  # the adopted embedded default's three seeds
DETECTOR_ANCHOR = "real/levers/detector_anchor"  # lever 5: the detector's rules on the photo record's counts
DETECTOR_RULES = {  # syrac.tools.detector_anchor's rules, the reference first
    "counter": "**the counter adopted** (lever 9), as recorded",
    "anchored": "every reading times the median found/read where the detector finds a fifth of the reading",
    "lower_bound": "the larger of the counter's and the detector's count",
    "midpoint": "the mean of the two counts where the detector finds a fifth of the reading",
}


def detector_rules_table(study: dict) -> str:
    """Lever 5's rules (``syrac.tools.detector_anchor``) against the counter whose recorded counts they
    read: per benchmark the development part's MAE and predicted/true total, then the test split's MAE.
    Ahead as in ``levers_table``: the development mean below the counter's on both benchmarks."""
    names = ["shanghaitech_a", "shanghaitech_b"]
    summary = study["summary"]
    rows = []
    for rule, label in DETECTOR_RULES.items():
        cells = []
        for name in names:
            dev = summary[f"{name}_development"][rule]
            cells += [spread(dev, "mae"), f"{dev['mean']['total_ratio']:.2f}"]
        cells += [spread(summary[name][rule], "mae") for name in names]
        ahead = all(summary[f"{n}_development"][rule]["mean"]["mae"]
                    < summary[f"{n}_development"]["counter"]["mean"]["mae"] for n in names)
        rows.append([label] + cells + [_verdict(rule == "counter", ahead)])
    header = [f"{_short(n)} dev {what}" for n in names for what in ("MAE", "total")]
    return _table(["rule"] + header + [f"{_short(n)} test MAE" for n in names] + ["development parts"], rows)


# every three-seed photo run of the count-scale study with totals on both development parts (label, summary under
# metrics/, read-out or None), for units_table: whether any lever moved a street's unit against a dense crowd's
UNIT_RUNS = [
    ("scale relations, ridge probe (the AMD record before lever 9)", "real/levers/adopted_amd_record_seeds", None),
    ("the same rerun on the Intel machine", "real/levers/adopted_on_intel_seeds", None),
    ("photographed people, 20 per N (lever 2)", "real/levers/photo_people20_seeds", None),
    ("photographed people, 10 per N (lever 2)", "real/levers/photo_people10_seeds", None),
    ("one inpainted copy, random regions, a fifth (lever 7)", "real/levers/photo_removals_seeds", None),
    ("the copy aimed at people, a fifth (lever 8)", "real/levers/people_removals_seeds", None),
    ("**the copy aimed at people, a tenth (lever 9, adopted)**", "real/levers/people_removals_area01_seeds", None),
    ("the same rerun on the Zen 3 machine in fp32", ZEN3_SCREENS, "counter"),
    ("0.15 inpainted (lever 10)", "real/levers/people_removals_area015_seeds", None),
    ("four copies of each photo (lever 17)", "real/levers/people_removals_four_seeds", None),
    ("a twentieth inpainted (lever 18)", "real/levers/people_removals_area005_seeds", None),
    ("every copy within its tenth (lever 20)", "real/levers/people_within_seeds", None),
    ("the authors' augmentations on lever 9 (issue 43)", "real/levers/authors_augmentations_lever9_seeds", None),
]


def units_table(runs: list[tuple[str, dict, str | None]], split: str = "development") -> str:
    """How each run reads SHA and SHB (``split``, own tiling) seed by seed: MAE, predicted/true total, and SHB's
    total over SHA's, 1 where a sparse street and a dense crowd are read in one unit, whatever that unit is. A
    lever can move the common unit (both totals) or the relative one (their ratio); the floor of issue 44
    needs the ratio near 1."""
    rows = []
    for label, run, readout in runs:
        a, b = (_lever_split(run, n, split, readout)["tiling"] for n in ("shanghaitech_a", "shanghaitech_b"))
        seeds = sorted(a["seeds"])
        ratios = [b["seeds"][s]["total_ratio"] / a["seeds"][s]["total_ratio"] for s in seeds]
        rows.append([label] + [cell for bench in (a, b) for cell in (
            spread(bench, "mae"), " / ".join(f"{bench['seeds'][s]['total_ratio']:.2f}" for s in seeds))]
            + [" / ".join(f"{r:.2f}" for r in ratios), f"{sum(ratios) / len(ratios):.2f}"])
    where = "dev" if split == "development" else split
    return _table(["run"] + [f"{bench} {where} {what}" for bench in ("SHA", "SHB") for what in ("MAE", "total")]
                  + ["SHB over SHA", "SHB over SHA, mean"], rows)


def scale_tables(metrics_dir: Path) -> str:
    """The count-scale study's tables (docs/count-scale.md) from the lever summaries under ``metrics_dir``,
    and the embedded default's own spread over seeds."""
    parts = []
    for title, (names, levers) in SCALE_LEVERS.items():
        runs = [(label, read_json(metrics_dir / f"{name}.json"), readout) for label, name, readout in levers]
        seeds = sorted(set.intersection(*(set(run[names[0]]["seeds"]) for _, run, _ in runs)))
        runs = [(label, restrict(run, seeds), readout) for label, run, readout in runs]
        heading = title[0].upper() + title[1:]  # not str.capitalize, which would lower "Intel"
        parts.append(f"{heading} (seed{'s' * (len(seeds) > 1)} {', '.join(seeds)}; own tiling; MAE mean, in "
                     "brackets the range):\n\n"
                     + levers_table(runs, names))
    units = [(label, read_json(metrics_dir / f"{name}.json"), readout) for label, name, readout in UNIT_RUNS]
    parts.append("A street's unit against a dense crowd's: every three-seed photo run above, its development parts' "
                 "MAE and predicted/true totals (own tiling) at seeds 0 / 1 / 2, and SHB's total over SHA's:\n\n"
                 + units_table(units))
    bound = read_json(metrics_dir / f"{ORACLE_SCREENS}.json")
    parts.append("The labelled bound on the adopted counter's features (syrac.tools.readout_screen --oracle: true "
                 "counts fit it, so it bounds a linear read-out of these features and is never a lever), the record's "
                 "three seeds on its Intel machine, the test splits (own tiling) at seeds 0 / 1 / 2:\n\n"
                 + units_table([("**the counter adopted** (lever 9)", bound, "counter"),
                                ("one ridge probe fitted on both development parts' annotated heads", bound,
                                 "oracle_joint"),
                                ("one such probe per benchmark, fitted on its own development part", bound,
                                 "oracle_own")], split="test"))
    study = read_json(metrics_dir / f"{DETECTOR_ANCHOR}.json")
    parts.append(f"The person detector's rules on the photo record's counts, no training (lever 5; seeds "
                 f"{', '.join(study['seeds'])}; own tiling; MAE mean, in brackets the range):\n\n"
                 + detector_rules_table(study))
    baseline = read_json(metrics_dir / f"{EMBEDDED_DEFAULT_SEEDS}.json")
    parts.append("The embedded default's spread over seeds (levers 11 to 13, on the Intel machine), the reference "
                 "for a lever of the embedded world: "
                 + seeds_table(baseline, ["sim_sparse", "sim_dense"]))
    return "\n".join(part.rstrip("\n") + "\n" for part in parts)


BLOCKS = {
    "readme-embedded": readme_embedded,
    "readme-real": readme_real,
    "results": tables,
    "real-results": tables,
    "review": review_tables,
    "scale": scale_tables,
}


def update_readme(readme: Path, metrics_dir: Path, block: str = "results") -> None:
    text = readme.read_text()
    start, end = markers(block)
    if start not in text or end not in text:
        raise SystemExit(f"{readme}: add the markers {start} and {end} where the tables go")
    generated = f"{start}\n{BLOCKS[block](metrics_dir).rstrip()}\n{end}"
    write_bytes(
        readme, re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: generated, text, flags=re.S).encode()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=Path("metrics"))
    parser.add_argument("--readme", type=Path, help="rewrite the results block of this file")
    parser.add_argument("--block", default="results", choices=BLOCKS,
                        help="the block to make: readme-embedded and readme-real (README), results (docs/embedded-"
                             "results.md), real-results and review (of metrics/real), scale (docs/count-scale.md)")
    args = parser.parse_args()
    if args.readme:
        update_readme(args.readme, args.metrics, args.block)
    else:
        print(BLOCKS[args.block](args.metrics))


if __name__ == "__main__":
    main()
