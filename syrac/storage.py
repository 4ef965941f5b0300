"""Reading and writing files so that a killed run never leaves a half-written one behind.

Every writer goes through a temporary name in the same folder and ``os.replace``, which is atomic
on POSIX: a file either exists complete or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from syrac.errors import BadImagesError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# The decoding budget, in pixels: about 0.8 GB as RGB. Crowd photos can be huge (UCF-QNRF reaches 54 MP),
# but a few bytes of PNG can claim gigapixels (a decompression bomb) and cost tens of GB to decode.
# Pillow's own guard warns above ~89 MP and raises above ~179 MP, without a way to go on with the
# other images; ``read_image`` checks the header against this budget itself instead.
MAX_DECODE_PIXELS = 1 << 28
Image.MAX_IMAGE_PIXELS = None


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def write_csv(path: str | Path, header: list[str], rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes(path, buffer.getvalue().encode())


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_image(path: str | Path, pixels: np.ndarray, quality: int = 95) -> None:
    """Save an HxWx3 uint8 array; JPEG like the real datasets (same bytes for the same pixels)."""
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())


REDUCED_FROM = "syrac_reduced_from"  # in a decoded image's ``info``: its full (width, height) where it was reduced


def read_image(path: str | Path, max_pixels: int | None = None) -> Image.Image:
    """Open any image as RGB, or say which file is broken or too large to decode.

    The size is read from the header first. An image over ``max_pixels`` is decoded reduced where the
    format allows it without decoding the whole (JPEG: at 1/2, 1/4 or 1/8 of each side, the image's
    ``info[REDUCED_FROM]`` then holds its full size), and refused otherwise (PNG and the rest). The
    budget is ``MAX_DECODE_PIXELS`` unless given."""
    max_pixels = max_pixels or MAX_DECODE_PIXELS
    try:
        with Image.open(path) as image:
            full = image.size
            if full[0] * full[1] > max_pixels and image.format == "JPEG":
                scale = next((s for s in (2, 4, 8) if math.ceil(full[0] / s) * math.ceil(full[1] / s) <= max_pixels), 8)
                image.draft("RGB", (math.ceil(full[0] / scale), math.ceil(full[1] / scale)))
            if image.size[0] * image.size[1] > max_pixels:
                raise ValueError(f"{path}: too large to decode ({full[0]} x {full[1]} pixels, over the budget of "
                                 f"{max_pixels:,}; a decompression bomb?)")
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, MemoryError) as error:
        raise ValueError(f"{path}: not a readable image ({type(error).__name__}: {error})") from error
    if rgb.size != full:
        rgb.info[REDUCED_FROM] = full
    return rgb


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder in a stable (sorted) order, or a clear error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return images


def save_npz(path: str | Path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def parallel_map(function, items: list, desc: str) -> list:
    """Map over items in worker processes, in order, with a progress bar."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [function(item) for item in tqdm(items, desc=desc, unit="img")]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(function, items, chunksize=4), total=len(items), desc=desc, unit="img"))


def _unreadable(path: Path) -> str | None:
    """Why a file cannot be used as an image, or None if it decodes."""
    try:
        read_image(path)
    except ValueError as error:
        return str(error)
    return None


def readable_images(paths: list[Path], policy: str, desc: str) -> tuple[list[Path], int]:
    """Decode every image once: under ``fail`` any unreadable file stops the stage (all are listed);
    under ``skip`` each is reported and left out. Returns the readable paths and the skipped count."""
    errors = parallel_map(_unreadable, paths, desc)
    bad = [error for error in errors if error]
    if bad and policy == "fail":
        raise BadImagesError("\n".join(bad + ["(set data.bad_images: skip in params.yaml to leave such files out)"]))
    for error in bad:
        print(f"warning: skipped {error}", file=sys.stderr)
    return [p for p, error in zip(paths, errors) if error is None], len(bad)
