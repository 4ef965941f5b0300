"""Counting people in any image with a trained counter file (``models/syrac.pt``).

The same KxK patch inference as the evaluation: every patch is resized to the network's input,
counted by encoder + linear probe (floored at zero), and the image count is the sum. The file's
training envelope (``syrac.method.envelope``) says whether the image lies within what training saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from syrac.errors import NotAModelError
from syrac.method.envelope import Envelope
from syrac.method.features import encode, image_patches, patch_boxes, resize
from syrac.method.model import RankCounter, compute_device, load_rank_model, probe_from_bundle, to_device
from syrac.method.probe import LinearProbe


@dataclass(frozen=True)
class Reading:
    """One image's KxK patch counts and whether it lies within what the counter was trained on."""

    counts: np.ndarray  # K x K
    in_range: bool | None  # None: the counter file carries no envelope (made before it had one)
    reason: str  # why not in range ("" when it is)


@dataclass
class Counter:
    model: RankCounter
    probe: LinearProbe
    input_size: tuple[int, int]
    envelope: Envelope | None = None

    def patch_counts(self, image: Image.Image, k: int) -> np.ndarray:
        """Counts of the KxK grid, row by row, as a K x K array."""
        return self.read(image, k).counts

    def read(self, image: Image.Image, k: int) -> Reading:
        """The KxK counts, and the envelope's verdict on the same patches' features (no second pass)."""
        features = encode(self.model, image_patches(image, (k,), self.input_size))
        counts = self.probe.patch_counts(features).reshape(k, k)
        if self.envelope is None:
            return Reading(counts, None, "the counter file has no training envelope; rerun `dvc repro`")
        reason = self.envelope.reason_out_of_range(resize(image, self.input_size), features)
        return Reading(counts, reason is None, reason or "")


def load_counter(path: str | Path) -> Counter:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no counter file; run `dvc repro` (it writes models/syrac.pt) or pass --model")
    model, bundle = load_rank_model(path)
    if "probe_weight" not in bundle:
        raise NotAModelError(f"{path}: a rank model without a linear probe, not a counter; pass the probe "
                             "stage's models/syrac.pt")
    envelope = Envelope.from_bundle(bundle["envelope"]) if "envelope" in bundle else None
    return Counter(to_device(model, compute_device()), probe_from_bundle(bundle), tuple(bundle["input_size"]), envelope)


def draw_patch_counts(image: Image.Image, counts: np.ndarray) -> Image.Image:
    """The image with its grid and each patch's predicted count written in it (paper Figure 5)."""
    k = counts.shape[0]
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, min(canvas.size) // (5 * k)))
    line = max(1, min(canvas.size) // 200)
    for (left, top, right, bottom), value in zip(patch_boxes(*canvas.size, k), counts.ravel()):
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 255, 0), width=line)
        draw.text(((left + right) / 2, (top + bottom) / 2), f"{value:.0f}", fill=(255, 255, 0), font=font,
                  anchor="mm", stroke_width=max(1, line), stroke_fill=(0, 0, 0))
    draw.text((4 * line, 4 * line), f"total {counts.sum():.0f}", fill=(255, 255, 255), font=font, anchor="la",
              stroke_width=max(1, line), stroke_fill=(0, 0, 0))
    return canvas
