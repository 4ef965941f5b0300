"""The `syrac` console command.

    syrac count IMAGE_VIDEO_OR_FOLDER... [--model FILE] [--patches tiling|K] [--every N|Ns] [--out DIR]
                [--format text|csv|json]

``--patches tiling`` (the default) counts each image on its own tiling, split where the counter reads
more people than the counting set taught it (``syrac.inference.tiling``, with the rule the counter
file stores); ``--patches K`` counts a fixed KxK grid.

A video counts as a time series: a frame every ``--every`` (``1s`` by default; ``25`` for every 25th
frame), one row per frame with its time, and with ``--out`` a plot of the count over time. A folder
counts its images; with ``--every`` it is a folder of frames, every Nth counted as a series.

Every format names the counter and says, per image, whether it lies within what the counter was
trained on (text: an "out of range: <reason>" column where it does not; CSV: in_range and reason;
JSON: the same keys). An unreadable or oversized file (a decompression bomb) is skipped with one
line on stderr, and the others are counted: the table on stdout stays complete and valid.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from syrac.inference.count import default_counter_path, draw_tiles, load_counter, plot_series
from syrac.inference.tiling import describe, tile_boxes
from syrac.inference.video import VIDEO_SUFFIXES, Every, Frame, VideoFrames, is_video
from syrac.storage import IMAGE_SUFFIXES, REDUCED_FROM, atomic_path, list_images, read_image

TILING = "tiling"
CSV_COLUMNS = ["image", "frame", "time_s", "count", "in_range", "reason", "counter"]


def _patches(value: str) -> int | None:
    """``tiling`` -> None (each image's own tiling), else a grid K >= 1. (``auto`` in params is another
    thing: ``evaluate.patches``' per-benchmark K rule.)"""
    if value == TILING:
        return None
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{TILING} or a grid K >= 1, got {value!r}")
    return int(value)


def _every(value: str) -> Every:
    try:
        return Every.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _yes_no(in_range: bool | None) -> str:
    return "" if in_range is None else str(in_range).lower()


class Series:
    """The frames one input yields: an image (one frame, no time), the images of a folder (with
    ``--every``: a folder of frames, every Nth), or a video's sampled frames. ``failed`` counts the
    images it could not read; ``is_series`` says whether its counts form a time series."""

    def __init__(self, path: Path, every: Every | None):
        self.path, self.failed, self.note = path, 0, ""
        if is_video(path):
            self.video = VideoFrames(path, every or Every(1, True))
            self.paths = []
        else:
            self.video = None
            self.paths = list_images(path) if path.is_dir() else [path]
            if every is not None and path.is_dir():
                self.paths = self.paths[::every.step(None, str(path))]
        self.is_series = self.video is not None or (every is not None and path.is_dir())

    def __len__(self) -> int:
        return len(self.video) if self.video is not None else len(self.paths)

    def frames(self) -> Iterator[tuple[str, Frame]]:
        if self.video is not None:
            try:
                for frame in self.video:
                    yield str(self.path), frame
            except ValueError as error:  # no frame decodes: reported like an unreadable image
                tqdm.write(f"skipped: {error}", file=sys.stderr)
                self.failed += 1
            self.note = self.video.note
            return
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except ValueError as error:  # report and go on: one bad file should not lose the rest
                tqdm.write(f"skipped: {error}", file=sys.stderr)
                self.failed += 1
                continue
            yield str(path), Frame(index if self.is_series else None, None, image)


def _series(inputs: list[Path], every: Every | None) -> tuple[list[Series], int]:
    """Every input as the frames it yields, and how many videos could not be opened (each reported in
    one line); a missing path is an error before anything is counted."""
    for item in inputs:
        if not item.exists():
            raise FileNotFoundError(f"{item}: no such file or folder")
    opened, failed = [], 0
    for item in inputs:
        try:
            opened.append(Series(item, every))
        except ValueError as error:
            if not is_video(item):
                raise  # a usage error (--every in seconds for a folder of frames): nothing is counted
            print(f"skipped: {error}", file=sys.stderr)
            failed += 1
    return opened, failed


def _row(counter, name: str, frame: Frame, patches: int | None) -> tuple[dict, object]:
    reading = counter.read(frame.image, patches)
    boxes = tile_boxes(reading.tiles, *frame.image.size)
    row = {"image": name, "frame": frame.index, "time_s": None if frame.time is None else round(frame.time, 3),
           "count": round(reading.count, 2), "in_range": reading.in_range, "reason": reading.reason,
           "tiling": describe(reading.tiles),
           "tiles": [{"grid": tile.k, "cell": tile.cell, "box": list(box), "count": round(tile.count, 2)}
                     for tile, box in zip(reading.tiles, boxes)]}
    if REDUCED_FROM in frame.image.info:
        row["decoded_from"] = list(frame.image.info[REDUCED_FROM])  # counted at the reduced size
    return row, reading


def _write(rows: list[dict], counter_name: str, form: str) -> None:
    if form == "json":
        json.dump([{**row, "counter": counter_name} for row in rows], sys.stdout, indent=2)
        print()
    elif form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(
            [
                r["image"],
                "" if r["frame"] is None else r["frame"],
                "" if r["time_s"] is None else r["time_s"],
                r["count"],
                _yes_no(r["in_range"]),
                r["reason"],
                counter_name,
            ]
            for r in rows
        )
    else:
        print(f"# counted by {counter_name}")
        for r in rows:
            where = (
                "" if r["frame"] is None else f"#{r['frame']}" + ("" if r["time_s"] is None else f"@{r['time_s']:g}s")
            )
            flag = f"\tout of range: {r['reason']}" if r["in_range"] is False else ""
            print(f"{r['image']}{where}\t{r['count']:.1f}{flag}")


def count(args: argparse.Namespace) -> int:
    """Counts go to stdout (text, CSV or JSON); progress, skipped files and the summary to stderr,
    so a redirected table never holds a progress line."""
    counter = load_counter(args.model or default_counter_path())
    inputs, failed = _series(args.inputs, args.every)
    rows, notes = [], []
    total = sum(len(series) for series in inputs)
    with tqdm(total=total or None, desc="counting", unit="frame", file=sys.stderr, disable=total < 2) as progress:
        for series in inputs:
            counted, start = [], progress.n
            for name, frame in series.frames():
                row, reading = _row(counter, name, frame, args.patches)
                counted.append(row)
                progress.update(start + len(counted) + series.failed - progress.n)  # a skipped file is done too
                if args.out and not series.is_series:
                    with atomic_path(args.out / f"{Path(name).stem}_count.png") as tmp:
                        draw_tiles(frame.image, reading.tiles).save(tmp, format="PNG")
            progress.update(max(0, start + len(series) - progress.n))  # skipped at the end, or a video's unread tail
            failed += series.failed
            if series.note:
                notes.append(series.note)
            if args.out and series.is_series and counted:
                plot_series(args.out / f"{series.path.stem}_counts.png", series.path.name, counted)
            rows += counted
    _write(rows, counter.name, args.format)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    outside = sum(r["in_range"] is False for r in rows)
    print(f"counted {len(rows)} image(s), skipped {failed} unreadable; counter: {counter.name}"
          + (f"; {outside} out of range (unlike the training images: counts not to be trusted)" if outside else ""),
          file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="syrac", description="SYRAC unsupervised crowd counting")
    commands = parser.add_subparsers(dest="command", required=True)
    counting = commands.add_parser(
        "count",
        help="count people in images and videos with a trained counter",
        description=f"Images: {', '.join(IMAGE_SUFFIXES)}; videos: {', '.join(VIDEO_SUFFIXES)} "
        "(with OpenCV); folders are not searched recursively.",
    )
    counting.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_VIDEO_OR_FOLDER")
    counting.add_argument("--model", type=Path, help="counter file (default: the photo counter shipped with syrac; "
                                                     "`dvc repro` writes models/syrac.pt)")
    counting.add_argument("--patches", type=_patches, default=None, metavar="tiling|K",
                          help="tiling (default): each image's own tiling, by the rule the counter file stores; "
                               "K: count a KxK grid and sum")
    counting.add_argument(
        "--every",
        type=_every,
        metavar="N|Ns",
        help="a video's frame every N frames or N seconds (default 1s); a folder as frames, every Nth",
    )
    counting.add_argument("--out", type=Path, help="write each image with its tiles and counts here, and each video's "
                                                   "count over time")
    counting.add_argument("--format", choices=("text", "csv", "json"), default="text")
    args = parser.parse_args(argv)
    try:
        return count(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

