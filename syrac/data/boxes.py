"""Where the person detector found people in the unlabelled photos, as stage cut_out_people records them.

Removal edits aimed at people (``pretrain.photo_removal_aim: people``) read the boxes back; kept apart
from ``syrac.data.people`` (which writes them beside its cut-outs) so that rank pre-training, which
reads them, depends on this file alone and not on the counting set's scene code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syrac import storage

PHOTO_BOXES = "boxes.csv"  # every box the detector is sure of, cut out or not
BOX_COLUMNS = ["photo", "width", "height", "left", "top", "right", "bottom", "score"]


def photo_boxes(people_dir: Path, photos: list[Path], size: tuple[int, int]) -> list[np.ndarray]:
    """Per photo, in order, the boxes of ``boxes.csv`` as N x 4 (left, top, right, bottom) in the pixels
    of the photo resized to ``size`` (height, width), as rank pre-training holds it."""
    path = people_dir / PHOTO_BOXES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; the people's boxes are stage cut_out_people's, which scans the "
                                "photos where pretrain.photo_removal_aim aims at people (dvc repro cut_out_people)")
    found: dict[str, list[list[float]]] = {str(photo): [] for photo in photos}
    height, width = size
    for row in storage.read_csv(path):
        if row["photo"] in found:
            across, down = width / float(row["width"]), height / float(row["height"])
            found[row["photo"]].append([float(row["left"]) * across, float(row["top"]) * down,
                                        float(row["right"]) * across, float(row["bottom"]) * down])
    return [np.array(boxes, dtype=float).reshape(-1, 4) for boxes in found.values()]
