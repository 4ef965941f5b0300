"""The `syrac` console command.

    syrac count IMAGE_OR_FOLDER... [--model models/syrac.pt] [--patches tiling|K] [--out DIR] [--format text|csv|json]

``--patches tiling`` (the default) counts each image on its own tiling, split where the counter reads
more people than the counting set taught it (``syrac.inference.tiling``, with the rule the counter
file stores); ``--patches K`` counts a fixed KxK grid.

Every format says, per image, whether it lies within what the counter was trained on (text: an
"out of range: <reason>" column where it does not; CSV: in_range and reason; JSON: the same keys).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from tqdm import tqdm

from syrac.inference.count import draw_tiles, load_counter
from syrac.inference.tiling import describe, tile_boxes
from syrac.storage import IMAGE_SUFFIXES, atomic_path, list_images, read_image


def _expand(inputs: list[Path]) -> list[Path]:
    """Files as given, folders as their images (sorted); a missing path is an error."""
    paths = []
    for item in inputs:
        if item.is_dir():
            paths.extend(list_images(item))
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return paths


TILING = "tiling"


def _patches(value: str) -> int | None:
    """``tiling`` -> None (each image's own tiling), else a grid K >= 1. (``auto`` in params is another
    thing: ``evaluate.patches``' per-benchmark K rule.)"""
    if value == TILING:
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{TILING} or a grid K >= 1, got {value!r}")
    return int(value)


def _yes_no(in_range: bool | None) -> str:
    return "" if in_range is None else str(in_range).lower()


def count(args: argparse.Namespace) -> int:
    """Counts go to stdout (text, CSV or JSON); progress, skipped files and the summary to stderr,
    so a redirected table never holds a progress line."""
    counter = load_counter(args.model)
    paths = _expand(args.inputs)
    rows, failed = [], 0
    for path in tqdm(paths, desc="counting", unit="img", file=sys.stderr, disable=len(paths) < 2):
        try:
            image = read_image(path)
        except ValueError as error:  # report and go on: one bad file should not lose the rest
            tqdm.write(f"skipped: {error}", file=sys.stderr)
            failed += 1
            continue
        reading = counter.read(image, args.patches)
        boxes = tile_boxes(reading.tiles, *image.size)
        rows.append({"image": str(path), "count": round(reading.count, 2), "in_range": reading.in_range,
                     "reason": reading.reason, "tiling": describe(reading.tiles),
                     "tiles": [{"grid": tile.k, "cell": tile.cell, "box": list(box), "count": round(tile.count, 2)}
                               for tile, box in zip(reading.tiles, boxes)]})
        if args.out:
            with atomic_path(args.out / f"{path.stem}_count.png") as tmp:
                draw_tiles(image, reading.tiles).save(tmp, format="PNG")
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["image", "count", "in_range", "reason"])
        writer.writerows([r["image"], r["count"], _yes_no(r["in_range"]), r["reason"]] for r in rows)
    else:
        for r in rows:
            flag = f"\tout of range: {r['reason']}" if r["in_range"] is False else ""
            print(f"{r['image']}\t{r['count']:.1f}{flag}")
    outside = sum(r["in_range"] is False for r in rows)
    print(f"counted {len(rows)} image(s), skipped {failed} unreadable"
          + (f"; {outside} out of range (unlike the training images: counts not to be trusted)" if outside else ""),
          file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="syrac", description="SYRAC unsupervised crowd counting")
    commands = parser.add_subparsers(dest="command", required=True)
    counting = commands.add_parser("count", help="count people in images with a trained counter",
                                   description=f"Images: {', '.join(IMAGE_SUFFIXES)}; folders are not searched recursively.")
    counting.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_FOLDER")
    counting.add_argument("--model", type=Path, default=Path("models/syrac.pt"), help="counter file (default: %(default)s)")
    counting.add_argument("--patches", type=_patches, default=None, metavar="tiling|K",
                          help="tiling (default): each image's own tiling, by the rule the counter file stores; "
                               "K: count a KxK grid and sum")
    counting.add_argument("--out", type=Path, help="write each image with its grid and per-patch counts here")
    counting.add_argument("--format", choices=("text", "csv", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        return count(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
