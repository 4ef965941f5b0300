"""Tiny dataset folders in the official layouts, written the way the datasets ship them
(MATLAB v5 .mat files via scipy, JHU-Crowd++ text files, JPEG images), for loader and DAG tests."""

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

SIZE = (96, 64)  # width, height


def write_image(path: Path, seed: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)


def head_points(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return np.column_stack([rng.uniform(0, SIZE[0], count), rng.uniform(0, SIZE[1], count)])


def shanghaitech(root: Path, split: str, counts: list[int]) -> None:
    """part_X/{split}_data/images/IMG_n.jpg + ground-truth/GT_IMG_n.mat with image_info{1}.location."""
    for i, count in enumerate(counts, start=1):
        write_image(root / f"{split}_data/images/IMG_{i}.jpg", i)
        info = np.empty((1, 1), dtype=object)
        info[0, 0] = {"location": head_points(count, i), "number": np.array([[float(count)]])}
        (root / f"{split}_data/ground-truth").mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(root / f"{split}_data/ground-truth/GT_IMG_{i}.mat", {"image_info": info})


def ucf_qnrf(root: Path, split: str, counts: list[int]) -> None:
    """UCF-QNRF_ECCV18/{Train,Test}/img_nnnn.jpg + img_nnnn_ann.mat with annPoints."""
    folder = root / split.capitalize()
    for i, count in enumerate(counts, start=1):
        write_image(folder / f"img_{i:04d}.jpg", 100 + i)
        scipy.io.savemat(folder / f"img_{i:04d}_ann.mat", {"annPoints": head_points(count, i)})


def jhu_crowd(root: Path, split: str, counts: list[int]) -> None:
    """jhu_crowd_v2.0/{split}/images/nnnn.jpg + gt/nnnn.txt, one 'x y w h o b' line per head."""
    for i, count in enumerate(counts, start=1):
        write_image(root / f"{split}/images/{i:04d}.jpg", 200 + i)
        (root / f"{split}/gt").mkdir(parents=True, exist_ok=True)
        lines = [f"{x:.0f} {y:.0f} 4 4 1 0" for x, y in head_points(count, i)]
        (root / f"{split}/gt/{i:04d}.txt").write_text("".join(line + "\n" for line in lines))


BUILDERS = {"shanghaitech": shanghaitech, "ucf_qnrf": ucf_qnrf, "jhu_crowd": jhu_crowd}
