"""Is the person detector a source of count scale for the photo counter? (issue 44's item 5)

    python -m syrac.tools.detector_anchor --data datasets/ShanghaiTech \\
        [--predictions metrics/real/predictions] [--out metrics/real/levers/detector_anchor.json]

Reads the photo record's per-image counts of every seed (``predictions/seed_N/<benchmark>[_development].csv``,
each image on its own tiling, as stage ``evaluate`` writes them), runs the SSD peer detector on the same
photos and scores the detector-anchored rules of ``syrac.studies.peers.anchor_study`` against the record's
true counts. The counter is not rerun, so every seed of the record is read as it was; the detector runs
here, and the file names this machine and keeps each photo's detected count, from which the study is
remade (a test does) without running the detector again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from syrac import storage
from syrac.data.datasets import image_paths
from syrac.errors import DatasetError, MissingWeightsError
from syrac.method.model import machine
from syrac.studies import peers

PARTS = {"shanghaitech_a": "part_A", "shanghaitech_b": "part_B"}
DEVELOPMENT = "_development"


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
    return peers.anchor_study(counts, readings, true, [s for s in splits if s.endswith(DEVELOPMENT)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ShanghaiTech's root (part_A, part_B)")
    parser.add_argument("--predictions", type=Path, default=Path("metrics/real/predictions"))
    parser.add_argument("--out", type=Path, default=Path("metrics/real/levers/detector_anchor.json"))
    args = parser.parse_args(argv)
    try:
        rows, splits = recorded(args.predictions)
        photos = {split: photo_of(args.data, split) for split in splits}
        first = next(iter(rows.values()))
        missing = [f"{split}/{name}" for split in splits for name in first[split] if name not in photos[split]]
        if missing:
            raise FileNotFoundError(f"{args.data}: {len(missing)} recorded photos not found, e.g. {missing[0]}")
        detector = peers.load("ssd_mobilenet_v2")
    except (FileNotFoundError, DatasetError, MissingWeightsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    detected = {}
    for split in splits:
        counts, _ = peers.count_images(detector, [photos[split][name] for name in first[split]], split)
        detected[split] = dict(zip(first[split], counts.astype(int).tolist()))
    study = remake(rows, splits, detected)
    storage.write_json(args.out, {"predictions": str(args.predictions), "detector": "ssd_mobilenet_v2",
                                  "machine": machine(), **study, "detected": detected})
    for split, rules in study["summary"].items():
        print(split, {rule: round(s["mean"]["mae"], 1) for rule, s in rules.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
