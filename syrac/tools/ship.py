"""Ship a photo counter with the repository, so that `syrac count street.jpg` works after a clone.

    python -m syrac.tools.ship COUNTER.pt --data datasets/ShanghaiTech --seeds-json metrics/real/seeds.json \\
        --note "why this seed" [--out syrac/counters/photo.pt]

A counter the ``shanghaitech`` profile trained (``models/syrac.pt`` of one seed's run) is stored
compactly: the encoder's weights in half precision (a ResNet-18 in about 23 MB, under git's comfort
of 25 MB; the machines that clone this repository reach no DVC remote, so git carries it), the
probe, tiling rule and envelope as they were. Beside it, ``photo.json`` holds its provenance: the
commit and params that trained it, the machine, its sha256, and what *this file* reads on the
development parts and the test splits of ShanghaiTech A and B, each image on its own tiling, as
`syrac count` reads it (the half-precision weights move the counts a little from the run's own).
A test reproduces those figures where the data is present. The shipped counter is remade once
per adopted read-out, not at every commit: each version stays in git's history.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from tqdm import tqdm

from syrac import storage
from syrac.data.datasets import development_part, image_paths, samples
from syrac.inference.count import SHIPPED, Counter, load_counter
from syrac.inference.evaluation import scores, total_ratio
from syrac.method.model import machine, read_model_file, save_torch
from syrac.synthetic import sim

PARTS = {"shanghaitech_a": "part_A", "shanghaitech_b": "part_B"}


def check_image() -> Image.Image:
    """An image anyone can remake without data (a dense scene of the embedded world, a pure function
    of its seed), whose reading the provenance records: a loaded counter that reads it otherwise is not
    the file that was shipped, or runs on another kind of CPU."""
    rng = sim.scene_rng(2026, 12, 4)
    return Image.fromarray(sim.render(sim.source_scene(rng, sim.DENSE, 300)))


def compact(bundle: dict) -> dict:
    """The counter file with its floating-point weights in half precision and the envelope's
    precision matrix in single precision; integers (batch-norm counters) and the rest as they were."""
    state = {
        name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in bundle["state_dict"].items()
    }
    envelope = dict(bundle["envelope"])
    envelope["precision"] = envelope["precision"].float()
    return {**bundle, "state_dict": state, "envelope": envelope}


def read_splits(counter: Counter, root: Path, splits: tuple[str, ...] = ("development", "test")) -> dict:
    """What ``counter`` reads, each image on its own tiling, on the development part (every 5th
    training photo) and the test split of each ShanghaiTech part under ``root``: MAE, MSE, Spearman
    and the predicted/true total."""
    figures = {}
    for name, part in PARTS.items():
        held = set(development_part(image_paths("shanghaitech", root / part, "train")))
        for split in splits:
            labelled = (samples("shanghaitech", root / part, "test") if split == "test" else
                        [s for s in samples("shanghaitech", root / part, "train") if s[0] in held])
            predicted = np.array([counter.read(storage.read_image(path), None).count
                                  for path, _ in tqdm(labelled, desc=f"{name} {split}", unit="img", file=sys.stderr)])
            true = np.array([len(points) for _, points in labelled], float)
            figures.setdefault(name, {})[split] = {
                **scores(predicted, true),
                "total_ratio": total_ratio(predicted, true),
                "n_images": len(labelled),
            }
    return figures


def commit_of(path: Path) -> str:
    """The commit checked out where ``path`` lies."""
    shown = subprocess.run(["git", "-C", str(path.resolve().parent), "rev-parse", "HEAD"], capture_output=True,
                           text=True)
    return shown.stdout.strip() or "unknown"


def ship(counter_path: Path, out: Path, data: Path | None, provenance: dict) -> dict:
    """Write the compact counter to ``out`` and its provenance to ``out`` with ``.json``; returns it."""
    bundle = read_model_file(counter_path)
    missing = [key for key in ("probe_weight", "tiling", "envelope", "provenance") if key not in bundle]
    if missing:
        raise ValueError(
            f"{counter_path}: not a counter to ship (it lacks {', '.join(missing)}); pass a models/syrac.pt "
            "that the probe stage wrote"
        )
    if not bundle["provenance"]["photographs"]:
        raise ValueError(f"{counter_path}: this counter never saw a photograph; ship one the shanghaitech profile "
                         "trained (python -m syrac.tools.profile shanghaitech)")
    shipped = compact(bundle)
    shipped["provenance"] = {**bundle["provenance"], "name": "the shipped photo counter"}
    save_torch(shipped, out)
    record = {
        **provenance,
        "trained_by": bundle["provenance"],
        "machine": machine(),
        "shipped": date.today().isoformat(),
        "bytes": out.stat().st_size,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    counter = load_counter(out)
    record["check_image_count"] = round(counter.read(check_image(), None).count, 3)
    if data is not None:
        record["reads"] = read_splits(counter, data)
    storage.write_json(out.with_suffix(".json"), record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counter", type=Path, help="a models/syrac.pt the shanghaitech profile wrote")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--data", type=Path, help="ShanghaiTech's root (part_A, part_B): the figures the file reads")
    parser.add_argument("--seeds-json", type=Path, help="the seeds summary of the run the counter comes from")
    parser.add_argument("--note", default="", help="how the seed was chosen (on the development part only)")
    parser.add_argument("--commit", help="the commit whose code trained the counter (default: this checkout's)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="the params file that trained it (its seed as the run had it), recorded whole")
    args = parser.parse_args(argv)
    if not args.params.is_file():
        parser.error(f"{args.params}: no such params file; pass the one that trained the counter with --params")
    provenance = {"commit": args.commit or commit_of(args.params), "params": yaml.safe_load(args.params.read_text()),
                  "note": args.note}
    if args.seeds_json:
        provenance["run"] = str(args.seeds_json)
    try:
        record = ship(args.counter, args.out, args.data, provenance)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {record['bytes'] / 1e6:.1f} MB, sha256 {record['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


