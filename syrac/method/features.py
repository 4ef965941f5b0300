"""Image -> patches -> frozen-encoder features, computed once and cached.

Inference splits an image into a KxK grid, resizes every patch to the network's input size and
counts it; the image count is the sum. Features of every patch for every K in the sweep are
extracted here once, so the probe, the evaluation and the patch sweep never re-encode an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from syrac.method.model import RankCounter, normalise, to_batch
from syrac.storage import read_image


def resize(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Resize to (height, width) with antialiasing; HxWx3 uint8."""
    height, width = size
    return np.asarray(image.resize((width, height), Image.BILINEAR, reducing_gap=None))


def load_resized(paths: list[Path], size: tuple[int, int], desc: str) -> torch.Tensor:
    """Decode and resize images once into an N x 3 x H x W uint8 tensor."""
    return to_batch([resize(read_image(p), size) for p in tqdm(paths, desc=desc, unit="img")])


def grid_boxes(width: int, height: int, columns: int, rows: int) -> list[tuple[int, int, int, int]]:
    """A columns x rows grid as (left, top, right, bottom) boxes, row by row, covering every pixel once."""
    xs = [round(i * width / columns) for i in range(columns + 1)]
    ys = [round(j * height / rows) for j in range(rows + 1)]
    return [(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(rows) for i in range(columns)]


def patch_boxes(width: int, height: int, k: int) -> list[tuple[int, int, int, int]]:
    """The KxK grid of patches an image is counted by."""
    return grid_boxes(width, height, k, k)


def image_patches(image: Image.Image, grids: tuple[int, ...], size: tuple[int, int]) -> list[np.ndarray]:
    """All patches of all grids, in grid order then row-major order."""
    return [resize(image.crop(box), size) for k in grids for box in patch_boxes(*image.size, k)]


def mosaic_patch(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Four half-size copies of the image side by side, at the input size: a view that holds exactly
    four times the image's people, each at half the size (the zoom-out diagnostic of
    ``syrac.method.scale``; no label needed)."""
    height, width = size
    half = resize(image, (height - height // 2, width - width // 2))
    tiles = np.concatenate([half, half], axis=1)
    return resize(Image.fromarray(np.concatenate([tiles, tiles], axis=0)), size)


def patches_per_pass(device: torch.device) -> int:
    """How many patches ``encode`` sends through the network at once. A CPU runs it fastest in small
    passes, its activations staying in cache: ResNet-18 at 192x256 encodes 1.3 times as fast 16 at a time
    as 64 on 2 Zen 3 cores in fp32 and on 2 Intel AMX cores in bf16 (perf/RESULTS.md, ``--only
    encode_batch``), every feature the same to the bit on both. Zen 4's bf16 (AVX512-BF16, no AMX) is not
    measured yet: the same section says whether it agrees. GPUs keep 64."""
    return 16 if device.type == "cpu" else 64


@torch.no_grad()
def encode(model: RankCounter, patches: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
    """Features of many patches, in batches (``patches_per_pass`` unless given), on the model's
    device and in its precision; returned as fp32, since they feed a least-squares fit."""
    model.eval()
    device = next(model.parameters()).device
    batch_size = batch_size or patches_per_pass(device)
    with model.autocast():
        out = [model.features(normalise(to_batch(patches[i:i + batch_size]).to(device))).float().cpu().numpy()
               for i in range(0, len(patches), batch_size)]
    return np.concatenate(out).astype(np.float32)


def extract(model: RankCounter, paths: list[Path], grids: tuple[int, ...], size: tuple[int, int],
            desc: str, images_per_batch: int = 8, mosaic: bool = False) -> dict[str, np.ndarray]:
    """Features of every KxK patch of every image: {'k1': N x 1 x D, 'k2': N x 4 x D, ...}, each
    image's decoded (width, height) ('sizes': N x 2, which the tiling's smallest cell reads), and with
    ``mosaic`` those of each image's ``mosaic_patch`` ('mosaic': N x 1 x D).

    Works through the images a few at a time, so memory does not grow with the dataset.
    """
    per_image = sum(k * k for k in grids)
    chunks, mosaics, sizes = [], [], []
    for start in tqdm(range(0, len(paths), images_per_batch), desc=desc, unit="batch"):
        images = [read_image(path) for path in paths[start:start + images_per_batch]]
        sizes += [image.size for image in images]
        patches = [p for image in images for p in image_patches(image, grids, size)]
        chunks.append(encode(model, patches).reshape(len(images), per_image, -1))
        if mosaic:  # a batch of their own: the grids' features stay those of the same batches without them
            mosaics.append(encode(model, [mosaic_patch(image, size) for image in images])[:, None])
    stacked = np.concatenate(chunks)
    result, offset = {}, 0
    for k in grids:
        result[f"k{k}"] = stacked[:, offset:offset + k * k]
        offset += k * k
    result["sizes"] = np.array(sizes, dtype=np.int64).reshape(-1, 2)
    if mosaic:
        result["mosaic"] = np.concatenate(mosaics)
    return result
