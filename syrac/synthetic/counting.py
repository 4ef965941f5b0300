"""The noisy counting set as the synthesis stage writes it: ``labels.csv`` beside the images, each
image's name and the count its prompt asked for (its only label; true counts are kept apart); and
its optional scenes of photographed people (``counting.photo_people``), composed here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from syrac import storage
from syrac.synthetic.sim import framed_person_height

LABELS = "labels.csv"
LABEL_COLUMNS = ["image", "prompted_count"]
PEOPLE = "people.csv"  # in a pool of cut-out people (syrac.data.people): one row per cut-out, its file first


def read_labels(path: Path) -> tuple[list[str], np.ndarray]:
    """Image names and their prompted counts, in the file's order."""
    rows = storage.read_csv(path)
    return [r["image"] for r in rows], np.array([float(r["prompted_count"]) for r in rows])


def prompted_for(path: Path, images) -> np.ndarray:
    """The prompted counts of ``images`` (names, e.g. as a features file lists them), in that order."""
    prompted_of = dict(zip(*read_labels(path)))
    return np.array([prompted_of[str(name)] for name in images])


def read_people(pool: Path) -> list[Path]:
    """The cut-out people of a pool (``syrac.data.people.cut_out_people``), in the order they were cut."""
    return [pool / row["image"] for row in storage.read_csv(pool / PEOPLE)]


def _soft_ellipse(width: int, height: int) -> Image.Image:
    """The paste mask of a cut-out: the ellipse its box inscribes, feathered, so that the box's
    corners (background of the photo it came from) fade out instead of tiling the scene."""
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((0.05 * width, 0.02 * height, 0.95 * width, 0.98 * height), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(max(1.0, 0.08 * min(width, height))))


def compose_people(background: Image.Image, people: list[Image.Image], n: int, rng: np.random.Generator) -> Image.Image:
    """A scene of ``n`` photographed people: cut-outs drawn from ``people`` pasted onto ``background``
    (an empty scene of the counting set), the farthest first so nearer people occlude them. They
    stand at the height the simulator frames a prompted group of ``n`` (``framed_person_height``,
    give or take 20%), a little smaller towards the top of the picture as in a high-angle view, so the
    label is ``n`` by construction (a cut-out may show a neighbour's shoulder besides its person)."""
    scene = background.convert("RGB")
    width, height = scene.size
    typical = framed_person_height(n) * height
    for feet in np.sort(rng.uniform(0.1 * height, 1.05 * height, n)):
        person = people[int(rng.integers(len(people)))]
        tall = max(2, round(typical * rng.uniform(0.8, 1.2) * (0.7 + 0.6 * feet / height)))
        wide = max(2, round(tall * person.width / person.height))
        pasted = person.resize((wide, tall), Image.BILINEAR)
        if rng.random() < 0.5:
            pasted = pasted.transpose(Image.FLIP_LEFT_RIGHT)
        left = rng.uniform(-wide / 2, width - wide / 2)
        scene.paste(pasted, (int(left), int(feet - tall)), _soft_ellipse(wide, tall))
    return scene
