"""Reading and writing files so that a killed run never leaves a half-written one behind.

Every writer goes through a temporary name in the same folder and ``os.replace``, which is atomic
on POSIX: a file either exists complete or not at all.
"""

from __future__ import annotations

import csv
import io
import json
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
# Pillow refuses images above ~179 megapixels as possible decompression bombs; crowd photos can be
# huge (UCF-QNRF reaches 54 MP) and here they come from datasets the user chose, so allow a gigapixel.
Image.MAX_IMAGE_PIXELS = 1 << 30


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


def read_image(path: str | Path) -> Image.Image:
    """Open any image as RGB, or say which file is broken."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error


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
