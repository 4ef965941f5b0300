"""Sparse and empty scenes: what the counter says about parts of a photo that hold few people.

A counter trained for crowds is also handed street corners and groups of five. Crops cut at random
positions and several sizes from each benchmark's test images are grouped by the annotated heads
they hold (none, 1 to 5, 6 to 20) and counted whole (K 1, the coarsest reading a grid allows); the
mean count of each group beside its mean true count says whether an empty scene reads as empty.
Labels only sort the crops into groups: an evaluation read-out, never a training signal or a choice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from syrac.inference.count import Counter
from syrac.inference.evaluation import heads_in
from syrac.method.features import encode, resize
from syrac.storage import read_image

BINS = {"0": (0, 0), "1-5": (1, 5), "6-20": (6, 20)}
SIDE_FRACTIONS = (1 / 2, 1 / 3, 1 / 4, 1 / 6)  # a crop's sides relative to its image's (same aspect ratio)
CROPS_PER_SIZE = 4  # random positions per image and size
MAX_CROPS_PER_BIN = 150  # a random sample of each group bounds the cost: 450 crops per benchmark at most


def random_boxes(rng: np.random.Generator, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """``CROPS_PER_SIZE`` boxes per side fraction, uniformly placed inside the image."""
    boxes = []
    for fraction in SIDE_FRACTIONS:
        w, h = max(1, round(width * fraction)), max(1, round(height * fraction))
        for _ in range(CROPS_PER_SIZE):
            left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            boxes.append((left, top, left + w, top + h))
    return boxes


def bin_of(heads: int) -> str | None:
    return next((name for name, (low, high) in BINS.items() if low <= heads <= high), None)


def sample_crops(rng: np.random.Generator, sizes: list[tuple[int, int]],
                 points: list[np.ndarray]) -> dict[str, list[tuple[int, tuple[int, int, int, int], int]]]:
    """(image index, box, heads) per group: every image's random boxes, sorted into the groups, at most
    ``MAX_CROPS_PER_BIN`` of each drawn at random."""
    groups: dict[str, list] = {name: [] for name in BINS}
    for index, ((width, height), heads) in enumerate(zip(sizes, points)):
        for box in random_boxes(rng, width, height):
            count = heads_in(heads, box)
            if (group := bin_of(count)) is not None:
                groups[group].append((index, box, count))
    return {name: [crops[i] for i in sorted(rng.permutation(len(crops))[:MAX_CROPS_PER_BIN])]
            for name, crops in groups.items()}


def count_crops(counter: Counter, paths: list[Path], crops: list[tuple[int, tuple, int]]) -> np.ndarray:
    """Each crop counted whole: resized to the network's input, encoded, read by the probe."""
    patches, opened = [], {}
    for index, box, _ in crops:
        if index not in opened:
            opened = {index: read_image(paths[index])}  # crops come grouped by image: keep one open
        patches.append(resize(opened[index].crop(box), counter.input_size))
    if not patches:
        return np.zeros(0)
    return counter.probe.patch_counts(encode(counter.model, patches))


def read_out(counter: Counter, paths: list[Path], points: list[np.ndarray], seed: int) -> tuple[dict, list[list]]:
    """Per group: how many crops, their mean true and mean predicted count, MAE; and one row per crop."""
    sizes = []
    for path in paths:
        with Image.open(path) as image:  # the header only
            sizes.append(image.size)
    groups = sample_crops(np.random.default_rng(seed), sizes, points)
    summary, rows = {}, []
    for name, crops in groups.items():
        predicted = count_crops(counter, paths, crops)
        true = np.array([heads for *_, heads in crops], dtype=float)
        summary[name] = {"crops": len(crops), "mean_true": float(true.mean()) if len(crops) else None,
                         "mean_count": float(predicted.mean()) if len(crops) else None,
                         "mae": float(np.abs(predicted - true).mean()) if len(crops) else None}
        rows += [[paths[index].name, name, *box, heads, round(float(count), 2)]
                 for (index, box, heads), count in zip(crops, predicted)]
    return summary, rows
