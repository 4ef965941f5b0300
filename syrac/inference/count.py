"""Counting people in any image with a trained counter file (``models/syrac.pt``).

The same patch inference as the evaluation, on a KxK grid or on the per-image tiling the file stores
(``syrac.inference.tiling``): every patch is resized to the network's input, counted by encoder +
linear probe (floored at zero), and the image count is the sum. The file's
training envelope (``syrac.method.envelope``) says whether the image lies within what training saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from syrac.errors import NotAModelError
from syrac.inference.tiling import Tile, TilingRule, choose_tiles, tile_boxes
from syrac.method.counter import probe_from_bundle
from syrac.method.envelope import Envelope
from syrac.method.features import encode, image_patches, resize
from syrac.method.model import RankCounter, compute_device, load_rank_model, to_device
from syrac.method.probe import LinearProbe


@dataclass(frozen=True)
class Reading:
    """One image's tiles with their counts, and whether it lies within what the counter was trained on."""

    tiles: list[Tile]
    in_range: bool | None  # None: the counter file carries no envelope (made before it had one)
    reason: str  # why not in range ("" when it is)

    @property
    def count(self) -> float:
        return sum(tile.count for tile in self.tiles)


def describe_provenance(bundle: dict | None) -> str:
    """One line naming a counter by what it was trained on."""
    if not bundle:
        return "a counter file without provenance (made before counters recorded theirs)"
    seen = (
        f"{bundle['synthetic']} and unlabelled photographs" if bundle["photographs"] else f"{bundle['synthetic']} only"
    )
    return f"{bundle.get('name', 'a counter')} ({bundle['backbone']}, seed {bundle['seed']}): trained on {seen}"


@dataclass
class Counter:
    model: RankCounter
    probe: LinearProbe
    input_size: tuple[int, int]
    envelope: Envelope | None = None
    tiling: TilingRule | None = None
    provenance: dict | None = None

    @property
    def name(self) -> str:
        return describe_provenance(self.provenance)

    @property
    def photographs_seen(self) -> bool | None:
        """Whether training saw any photograph; None where the file does not say."""
        return None if self.provenance is None else bool(self.provenance["photographs"])

    def read(self, image: Image.Image, k: int | None) -> Reading:
        """The KxK grid's counts, or with ``k`` None the per-image tiling the counter file stores; and
        the envelope's verdict on the features of the patches counted (no second pass)."""
        features = {}

        def grid_counts(grid: int) -> np.ndarray:
            features[grid] = encode(self.model, image_patches(image, (grid,), self.input_size))
            return self.probe.patch_counts(features[grid])

        if k is None:
            if self.tiling is None:
                raise NotAModelError("the counter file has no tiling rule (made before it had one); rerun "
                                     "`dvc repro` or pass --patches K")
            tiles = choose_tiles(grid_counts, self.tiling.for_image(*image.size))
        else:
            tiles = [Tile(k, cell, float(count)) for cell, count in enumerate(grid_counts(k))]
        if self.photographs_seen is False:
            return Reading(tiles, False, f"this counter saw {self.provenance['synthetic']} only, never a photograph: "
                                         "count photographs with the shipped photo counter (no --model)")
        if self.envelope is None:
            return Reading(tiles, None, "the counter file has no training envelope; rerun `dvc repro`")
        counted = np.stack([features[tile.k][tile.cell] for tile in tiles])
        reason = self.envelope.reason_out_of_range(resize(image, self.input_size), counted)
        return Reading(tiles, reason is None, reason or "")


def load_counter(path: str | Path) -> Counter:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no counter file; run `dvc repro` (it writes models/syrac.pt) or pass --model")
    model, bundle = load_rank_model(path)
    if "probe_weight" not in bundle:
        raise NotAModelError(f"{path}: a rank model without a linear probe, not a counter; pass the probe "
                             "stage's models/syrac.pt")
    envelope = Envelope.from_bundle(bundle["envelope"]) if "envelope" in bundle else None
    tiling = TilingRule.from_bundle(bundle["tiling"]) if "tiling" in bundle else None
    return Counter(to_device(model, compute_device()), probe_from_bundle(bundle), tuple(bundle["input_size"]),
                   envelope, tiling, bundle.get("provenance"))


SHIPPED = Path(__file__).resolve().parents[1] / "counters" / "photo.pt"  # the photo counter git keeps (issue 45)


def default_counter_path() -> Path:
    """The counter `syrac count` uses without ``--model``: the photo counter shipped with syrac, or
    where it is missing (a checkout that predates it) the DAG's ``models/syrac.pt``."""
    return SHIPPED if SHIPPED.is_file() else Path("models/syrac.pt")


def plot_series(path: Path, title: str, rows: list[dict]) -> None:
    """A video's (or a folder of frames') count over time, out-of-range frames marked."""
    from syrac.figures import plt, save_figure

    timed = all(row["time_s"] is not None for row in rows)
    x = [row["time_s"] if timed else row["frame"] for row in rows]
    counts = [row["count"] for row in rows]
    fig, ax = plt.subplots(figsize=(7, 3), dpi=110)
    ax.plot(x, counts, marker="o", markersize=3, lw=1)
    outside = [(xi, c) for xi, c, row in zip(x, counts, rows) if row["in_range"] is False]
    if outside:
        ax.scatter(*zip(*outside), color="tab:red", s=12, zorder=3, label="out of range")
        ax.legend(fontsize=8)
    ax.set(title=title, xlabel="seconds" if timed else "frame", ylabel="count", ylim=(0, None))
    fig.tight_layout()
    save_figure(fig, path)


def draw_tiles(image: Image.Image, tiles: list[Tile]) -> Image.Image:
    """The image with the tiles it was counted with and each tile's count written in it (paper Figure 5)."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    line = max(1, min(canvas.size) // 200)
    for (left, top, right, bottom), tile in zip(tile_boxes(tiles, *canvas.size), tiles):
        font = ImageFont.load_default(size=max(10, min(canvas.size) // (5 * tile.k)))
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(255, 255, 0), width=line)
        draw.text(((left + right) / 2, (top + bottom) / 2), f"{tile.count:.0f}", fill=(255, 255, 0), font=font,
                  anchor="mm", stroke_width=max(1, line), stroke_fill=(0, 0, 0))
    font = ImageFont.load_default(size=max(10, min(canvas.size) // 10))
    draw.text((4 * line, 4 * line), f"total {sum(t.count for t in tiles):.0f}", fill=(255, 255, 255), font=font,
              anchor="la", stroke_width=max(1, line), stroke_fill=(0, 0, 0))
    return canvas
