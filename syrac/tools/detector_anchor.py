"""Is the person detector a source of count scale for the photo counter? (issue 44's item 5)

    python -m syrac.tools.detector_anchor --data datasets/ShanghaiTech \\
        [--predictions metrics/real/predictions] [--out metrics/real/levers/detector_anchor.json]
    python -m syrac.tools.detector_anchor --reuse    # the rules scored again on the counts --out keeps

Reads the photo record's per-image counts of every seed (``predictions/seed_N/<benchmark>[_development].csv``,
each image on its own tiling, as stage ``evaluate`` writes them), runs the SSD peer detector on the same
photos and scores the detector-anchored rules of ``anchor_study`` against the record's
true counts. The counter is not rerun, so every seed of the record is read as it was; the detector runs
here, and the file names this machine and keeps each photo's detected count, from which ``--reuse``
remakes the study (a test does too) without running the detector again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from syrac import storage
from syrac.data.datasets import image_paths
from syrac.errors import DatasetError, MissingWeightsError
from syrac.inference.evaluation import total_ratio
from syrac.method.model import machine
from syrac.studies import peers
from syrac.tools.seeds import aggregate
from syrac.tools.ship import PARTS

DEVELOPMENT = "_development"


ANCHOR_SHARE = 0.2  # a scene the detector reads as large, few people: it finds this share of the counter's count
ANCHOR_RULES = ("counter", "anchored", "lower_bound", "midpoint")


def _split_figures(predicted: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {"mae": float(np.abs(predicted - true).mean()), "total_ratio": total_ratio(predicted, true)}


def _midpoint(detected: np.ndarray, read: np.ndarray, true: np.ndarray, sure: np.ndarray) -> dict:
    return {**_split_figures(np.where(sure, (detected + read) / 2, read), true), "fires": int(sure.sum())}


def anchor_study(detected: dict[str, np.ndarray], readings: dict[str, dict[str, np.ndarray]],
                 true: dict[str, np.ndarray], anchor_splits: list[str], share: float = ANCHOR_SHARE) -> dict:
    """The person detector as a source of count scale (issue 44's item 5), beside a counter's recorded
    counts: per split, ``detected`` holds each image's number of detected people, ``true`` its
    annotated people, and ``readings[seed][split]`` the counter's count. No label enters a rule; the
    labels only score them.

    - ``anchored``: the counter's unit set where the detector is surest, the images of ``anchor_splits``
      in which it finds at least ``share`` of what the counter reads (large, few people): every reading
      times the median detected/read ratio there. It is right only if the detector finds nearly
      everyone in those scenes.
    - ``lower_bound``: max(counter, detector), since boxes it is sure of are people who are there.
    - ``midpoint``: on each image in which the detector finds at least ``share`` of the reading, the mean
      of the two counts, the other images as the counter reads them. Where the true count lies between
      them (the detector misses people, the counter over-reads large ones) the midpoint is the estimate
      whose worst error is least; where the detector finds less, the scene is too dense for it to bound.
    - ``fifths``: per fifth of each split by true count (fewer parts for fewer images), the median
      detected/true and read/true (the seeds' mean reading): how much of a crowd the detector sees
      at each density."""
    study: dict = {"share": share, "seeds": {}}
    for seed, read in readings.items():
        found = {split: detected[split] / np.maximum(read[split], 1e-9) for split in true}  # detected/read per image
        ratios = np.concatenate([found[s] for s in anchor_splits])
        sure = ratios >= share
        factor = float(np.median(ratios[sure])) if sure.any() else 1.0
        splits = {}
        for split, people in true.items():
            bound = np.maximum(read[split], detected[split])
            splits[split] = {"counter": _split_figures(read[split], people),
                             "anchored": _split_figures(factor * read[split], people),
                             "lower_bound": {**_split_figures(bound, people),
                                             "binds": int((detected[split] > read[split]).sum())},
                             "midpoint": _midpoint(detected[split], read[split], people, found[split] >= share)}
        study["seeds"][seed] = {"factor": factor, "anchor_images": int(sure.sum()), "splits": splits}
    runs = study["seeds"].items()
    study["summary"] = {split: {rule: aggregate({seed: run["splits"][split][rule] for seed, run in runs})
                                for rule in ANCHOR_RULES} for split in true}
    study["fifths"] = {}
    for split, people in true.items():
        mean_read = np.mean([read[split] for read in readings.values()], axis=0)
        counted = np.maximum(people, 1)  # an empty image's detections and reading, against one person
        study["fifths"][split] = [
            {"true": [float(people[part].min()), float(people[part].max())],
             "detected_over_true": float(np.median(detected[split][part] / counted[part])),
             "read_over_true": float(np.median(mean_read[part] / counted[part]))}
            for part in np.array_split(np.argsort(people, kind="stable"), min(5, len(people)))]
    return study


def recorded(predictions: Path) -> tuple[dict[str, dict[str, dict[str, str]]], list[str]]:
    """{seed: {split: {image: row}}} from the seeds' CSVs, and the splits every seed holds."""
    seeds = sorted(path for path in predictions.glob("seed_*") if path.is_dir())
    if not seeds:
        raise FileNotFoundError(f"{predictions}: no seed_N folders of per-image counts (stage evaluate writes them; "
                                "python -m syrac.tools.seeds gathers them into metrics/real/predictions)")
    rows = {seed.name.removeprefix("seed_"): {csv.stem: {r["image"]: r for r in storage.read_csv(csv)}
                                              for csv in sorted(seed.glob("*.csv"))} for seed in seeds}
    splits = sorted(set.intersection(*(set(by_split) for by_split in rows.values())))
    known = [s for s in splits if s.removesuffix(DEVELOPMENT) in PARTS]
    if not any(s.endswith(DEVELOPMENT) for s in known):
        raise FileNotFoundError(f"{predictions}: no ShanghaiTech development part ({', '.join(PARTS)}, "
                                f"<name>{DEVELOPMENT}.csv) in every seed's folder: the anchor is set there")
    return rows, known


def photo_of(data: Path, split: str) -> dict[str, Path]:
    """The photos of a recorded split by name: a development part's are training photos."""
    part = PARTS[split.removesuffix(DEVELOPMENT)]
    return {path.name: path for path in image_paths("shanghaitech", data / part,
                                                    "train" if split.endswith(DEVELOPMENT) else "test")}


def remake(rows: dict[str, dict[str, dict[str, dict[str, str]]]], splits: list[str],
           detected: dict[str, dict[str, int]]) -> dict:
    """The study from the seeds' recorded counts (``recorded``) and each photo's detected count."""
    first = next(iter(rows.values()))
    names = {split: list(first[split]) for split in splits}
    true = {s: np.array([float(first[s][n]["true_count"]) for n in names[s]]) for s in splits}
    counts = {s: np.array([float(detected[s][n]) for n in names[s]]) for s in splits}
    readings = {seed: {s: np.array([float(by_split[s][n]["tiled_count"]) for n in names[s]]) for s in splits}
                for seed, by_split in rows.items()}
    return anchor_study(counts, readings, true, [s for s in splits if s.endswith(DEVELOPMENT)])


def detect_recorded(data: Path | None, rows: dict, splits: list[str]) -> dict[str, dict[str, int]]:
    """Each recorded photo's detected count: the SSD peer detector run on the photos under ``data``."""
    if data is None:
        raise FileNotFoundError("--data: ShanghaiTech's root is needed to run the detector (or --reuse)")
    photos = {split: photo_of(data, split) for split in splits}
    first = next(iter(rows.values()))
    missing = [f"{split}/{name}" for split in splits for name in first[split] if name not in photos[split]]
    if missing:
        raise FileNotFoundError(f"{data}: {len(missing)} recorded photos not found, e.g. {missing[0]}")
    detector = peers.load("ssd_mobilenet_v2")
    detected = {}
    for split in splits:
        counts, _ = peers.count_images(detector, [photos[split][name] for name in first[split]], split)
        detected[split] = dict(zip(first[split], counts.astype(int).tolist()))
    return detected


def kept_counts(record: Path) -> tuple[dict[str, dict[str, int]], dict]:
    """The detected counts an earlier run of this tool kept, and the machine the detector ran on."""
    kept = storage.read_json(record) if record.exists() else {}
    if "detected" not in kept:
        raise FileNotFoundError(f"{record}: no detected counts to reuse (run once with --data)")
    return kept["detected"], kept["machine"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="ShanghaiTech's root (part_A, part_B); not read with --reuse")
    parser.add_argument("--predictions", type=Path, default=Path("metrics/real/predictions"))
    parser.add_argument("--out", type=Path, default=Path("metrics/real/levers/detector_anchor.json"))
    parser.add_argument("--reuse", action="store_true",
                        help="score the rules again on the detected counts --out keeps, without the detector")
    args = parser.parse_args(argv)
    try:
        rows, splits = recorded(args.predictions)
        detected, measured_on = (kept_counts(args.out) if args.reuse
                                 else (detect_recorded(args.data, rows, splits), machine()))
    except (FileNotFoundError, DatasetError, MissingWeightsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    study = remake(rows, splits, detected)
    storage.write_json(args.out, {"predictions": str(args.predictions), "detector": "ssd_mobilenet_v2",
                                  "machine": measured_on, **study, "detected": detected})
    for split, rules in study["summary"].items():
        print(split, {rule: round(s["mean"]["mae"], 1) for rule, s in rules.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
