"""The crowd-counting datasets as distributed: ShanghaiTech A/B, UCF-QNRF, JHU-Crowd++.

Each layout pairs every image with one annotation file of head points; the count of an image is
the number of its points. Folders are checked as a whole before any work starts, and every
problem is reported (missing folder, no images, an image without annotation or the reverse, an
annotation with the wrong keys), each naming the file and what was expected.

Ranking sources use :func:`training_images`, which never opens an annotation: the ranking stages
cannot read ground truth even when it sits beside the images. A training split's development part
(:func:`development_part`) is held out of them: its labels are the development read-out every
lever is adopted on, so no choice reads a test label.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import (  # the MATLAB v5 files ShanghaiTech and UCF-QNRF ship
    loadmat,
    whosmat,
)
from scipy.io.matlab import MatReadError

from syrac.config import Config, DatasetSources
from syrac.errors import DatasetError
from syrac.storage import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Layout:
    """Where a split's images and annotations live, and how an annotation is named after its image."""

    images: str       # folder of images, relative to the dataset root; {split} is filled in
    annotations: str  # folder of annotation files
    prefix: str       # annotation name = prefix + image stem + suffix
    suffix: str
    expected: str     # what an annotation must contain, for error messages
    split_names: dict[str, str]

    def folder(self, root: Path, pattern: str, split: str) -> Path:
        return root / pattern.format(split=self.split_names[split])

    def annotation_for(self, image: Path, annotation_dir: Path) -> Path:
        return annotation_dir / f"{self.prefix}{image.stem}{self.suffix}"


LAYOUTS = {
    # part_A|part_B/{train,test}_data/images/IMG_1.jpg + ground-truth/GT_IMG_1.mat
    "shanghaitech": Layout("{split}_data/images", "{split}_data/ground-truth", "GT_", ".mat",
                           "a MATLAB struct image_info{1}.location with N x 2 head points",
                           {"train": "train", "test": "test"}),
    # UCF-QNRF_ECCV18/{Train,Test}/img_0001.jpg + img_0001_ann.mat
    "ucf_qnrf": Layout("{split}", "{split}", "", "_ann.mat", "a MATLAB variable annPoints with N x 2 head points",
                       {"train": "Train", "test": "Test"}),
    # jhu_crowd_v2.0/{train,val,test}/images/0001.jpg + gt/0001.txt, one head per line: x y w h o b
    "jhu_crowd": Layout("{split}/images", "{split}/gt", "", ".txt",
                        "one head per line as 'x y w h o b' (an empty file for no people)",
                        {"train": "train", "val": "val", "test": "test"}),
}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def image_paths(fmt: str, root: str | Path, split: str) -> list[Path]:
    """The images of a split, sorted, without looking at any annotation."""
    folder = LAYOUTS[fmt].folder(Path(root), LAYOUTS[fmt].images, split)
    if not folder.is_dir():
        raise DatasetError([f"{folder}: folder not found; expected the {fmt} {split} images here "
                            f"(see datasets/README.md for the layout)"])
    images = _images_in(folder)
    if not images:
        raise DatasetError([f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found"])
    return images


DEVELOPMENT_EVERY = 5  # one training image in 5 is in the development part


def development_part(images: list[Path]) -> list[Path]:
    """The development part of a training split: every 5th image of its sorted listing, from the
    first. No training stage sees these images; their labels are the read-out on which levers and
    settings are chosen, so no choice reads a test label."""
    return sorted(images)[::DEVELOPMENT_EVERY]


def training_images(fmt: str, root: str | Path, split: str) -> list[Path]:
    """The images a training stage may read from a split: all of it, less the development part of a
    train split; no annotation is opened."""
    images = image_paths(fmt, root, split)
    held = set(development_part(images)) if split == "train" else set()
    return [image for image in images if image not in held]


def unlabelled_photos(declared: tuple[DatasetSources, ...]) -> list[Path]:
    """The images of every declared source (``pretrain.unlabelled_photos``), in declaration order, each
    less its development part: the one listing that rank pre-training, its scale relations and the
    cut-out people all read, so they can never disagree on which photos training may see."""
    return [path for sources in declared for path in training_images(sources.format, sources.root, sources.split)]


def _pair_problems(fmt: str, root: Path, split: str) -> tuple[list[tuple[Path, Path]], list[str]]:
    layout = LAYOUTS[fmt]
    try:
        images = image_paths(fmt, root, split)
    except DatasetError as error:
        return [], error.problems
    annotation_dir = layout.folder(root, layout.annotations, split)
    if not annotation_dir.is_dir():
        return [], [f"{annotation_dir}: folder not found; expected the {fmt} {split} annotations here"]
    pairs, problems = [], []
    for image in images:
        annotation = layout.annotation_for(image, annotation_dir)
        if annotation.is_file():
            pairs.append((image, annotation))
        else:
            problems.append(f"{image}: no annotation; expected {annotation}")
    expected = {layout.annotation_for(image, annotation_dir).name for image in images}
    for annotation in sorted(annotation_dir.glob(f"{layout.prefix}*{layout.suffix}")):
        if annotation.name not in expected:
            problems.append(f"{annotation}: annotation without an image in {layout.folder(root, layout.images, split)}")
    return pairs, problems


def read_points(fmt: str, annotation: Path) -> np.ndarray:
    """Head points (N x 2, x then y) of one annotation file, or a DatasetError naming the file."""
    try:
        if fmt == "jhu_crowd":
            text = annotation.read_text()
            points = np.loadtxt(io.StringIO(text), ndmin=2) if text.strip() else np.zeros((0, 2))
            points = points[:, :2] if points.shape[1] >= 2 else points
        else:
            mat = loadmat(annotation)
            points = mat["annPoints"] if fmt == "ucf_qnrf" else mat["image_info"][0, 0]["location"][0, 0]
        points = np.asarray(points, dtype=np.float64)
        points = points.reshape(0, 2) if points.size == 0 else points
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise ValueError(f"points of shape {points.shape}")
    except (KeyError, IndexError, ValueError, TypeError, OSError, MatReadError) as error:
        found = ""
        if annotation.suffix == ".mat":
            try:
                found = f"; found variables {[name for name, _, _ in whosmat(annotation)]}"
            except (ValueError, OSError, MatReadError):
                found = "; not a MATLAB file"
        raise DatasetError(
            [f"{annotation}: expected {LAYOUTS[fmt].expected} ({type(error).__name__}: {error}{found})"]
        ) from None
    return points


def samples(fmt: str, root: str | Path, split: str) -> list[tuple[Path, np.ndarray]]:
    """(image path, head points) for every image of a split; every problem at once as a DatasetError."""
    pairs, problems = _pair_problems(fmt, Path(root), split)
    loaded = []
    for image, annotation in pairs:
        try:
            loaded.append((image, read_points(fmt, annotation)))
        except DatasetError as error:
            problems.extend(error.problems)
    if problems:
        raise DatasetError(problems)
    return loaded


ORACLE_SPLIT = "train"  # labelled images of each benchmark for the ablation's supervised oracle


def dataset_problems(cfg: Config) -> list[str]:
    """Every fault of every declared dataset folder, prefixed by the parameter that declares it."""
    found = []
    image_only = [("sources", cfg.sources)] if isinstance(cfg.sources, DatasetSources) else []
    image_only += [(f"pretrain.unlabelled_photos[{i}]", p) for i, p in enumerate(cfg.pretrain.unlabelled_photos)]
    for key, photos in image_only:
        try:  # images only: the annotations of training photos are never opened
            image_paths(photos.format, photos.root, photos.split)
        except DatasetError as error:
            found += [f"{key}: {problem}" for problem in error.problems]
    return found + benchmark_problems(cfg)


def benchmark_problems(cfg: Config) -> list[str]:
    """Every fault of every dataset benchmark's folders: its split and the training split (read by the
    ablation's oracle and the development part)."""
    found = []
    for name, bench in cfg.dataset_benchmarks.items():
        for split in dict.fromkeys((bench.split, ORACLE_SPLIT)):
            try:
                samples(bench.format, bench.root, split)
            except DatasetError as error:
                found += [f"benchmarks.{name}: {problem}" for problem in error.problems]
    return found
