"""People cut out of unlabelled photos: the photographed people of a counting set (``counting.photo_people``).

The counting set's renders teach the probe what N people look like, and photographs of dense crowds
read at about half their people through it (docs/count-scale.md). A person detector finds the
people of the unlabelled training photos where they are large and it is sure of them; each such box
becomes one cut-out, and ``syrac.synthetic.counting.compose_people`` pastes N of them into a scene,
whose label is then N by construction. The detector is given by the caller (the stage passes the
SSD peer detector), so this module reads images and writes files only; no annotation is opened.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from syrac import storage
from syrac.data.boxes import BOX_COLUMNS, PHOTO_BOXES
from syrac.synthetic.counting import PEOPLE
from syrac.synthetic.generate import finish

PEOPLE_COLUMNS = ["image", "photo", "left", "top", "right", "bottom", "score"]
STANDING = (1.3, 4.5)  # a box's height over its width where it holds one standing person rather than a group

FindPeople = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # BGR image -> (boxes N x 4, scores N)


def one_person(box, score: float, min_score: float, min_height: float) -> bool:
    """A box kept as a cut-out: the detector is sure of it, it is large enough to show a person's
    appearance, and it is shaped like one standing person (a group's box is wider)."""
    width, height = box[2] - box[0], box[3] - box[1]
    return score >= min_score and height >= min_height and STANDING[0] * width <= height <= STANDING[1] * width


def cut_out_people(photos: list[Path], find_people: FindPeople, min_score: float, min_height: float,
                   out_dir: Path) -> dict:
    """Every kept box of every photo as an image file in ``out_dir`` with ``people.csv`` beside them
    (which photo and where), and every box scored ``min_score`` or more in ``boxes.csv`` (the people
    that ``pretrain.photo_removal_aim: people`` removes). Written to a sibling folder and moved into
    place at the end, so a killed run leaves no half-written pool."""
    work = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows, sure = [], []
    for photo in tqdm(photos, desc="people found in the photos", unit="img"):
        image = storage.read_image(photo)
        boxes, scores = find_people(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
        for box, score in zip(boxes, scores):
            if score >= min_score:
                sure.append([str(photo), image.width, image.height, *(round(float(v), 1) for v in box),
                             round(float(score), 4)])
            if not one_person(box, float(score), min_score, min_height):
                continue
            left, top = max(0, int(box[0])), max(0, int(box[1]))
            right, bottom = min(image.width, int(np.ceil(box[2]))), min(image.height, int(np.ceil(box[3])))
            name = f"person_{len(rows):05d}.jpg"
            storage.write_image(work / name, np.asarray(image.crop((left, top, right, bottom))))
            rows.append([name, str(photo), left, top, right, bottom, round(float(score), 4)])
    storage.write_csv(work / PEOPLE, PEOPLE_COLUMNS, rows)
    storage.write_csv(work / PHOTO_BOXES, BOX_COLUMNS, sure)
    finish(work, out_dir)
    return {"photos": len(photos), "people": len(rows), "boxes": len(sure)}

