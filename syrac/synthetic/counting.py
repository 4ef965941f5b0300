"""The noisy counting set as the synthesis stage writes it: ``labels.csv`` beside the images, each
image's name and the count its prompt asked for (its only label; true counts are kept apart)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syrac import storage

LABELS = "labels.csv"
LABEL_COLUMNS = ["image", "prompted_count"]


def read_labels(path: Path) -> tuple[list[str], np.ndarray]:
    """Image names and their prompted counts, in the file's order."""
    rows = storage.read_csv(path)
    return [r["image"] for r in rows], np.array([float(r["prompted_count"]) for r in rows])


def prompted_for(path: Path, images) -> np.ndarray:
    """The prompted counts of ``images`` (names, e.g. as a features file lists them), in that order."""
    prompted_of = dict(zip(*read_labels(path)))
    return np.array([prompted_of[str(name)] for name in images])
