"""Per-image tiling without labels: a quadtree that splits a region while the counter reads more
people in it than it was ever taught to see in one frame.

The counting set's densest prompt is the most the probe learned to count in one input frame, so
its median reading of those images (the *ceiling*, stored in the counter file by the probe stage)
marks where a reading turns into extrapolation: a region counted above it is split into its 2x2
children and each child read alone, down to the finest grid (params ``tiling.finest``, stored in the counter
file with the ceiling). A region counted at or below the ceiling is read whole, so sparse
photos keep their people at the scale the counting set shows them, not enlarged by a fine grid.
Optionally (params ``tiling.split_saturated``) a region is split too where its 2x2 cells read more
people than it does: a whole that saturates reads fewer than its parts, which hold the same people.
And optionally (params ``tiling.min_cell``) no region is split into cells smaller than a share of
the network's input on a side: each cell is resized up to the input, so a small one shows its
people magnified beyond any size the counter learned from; small images then stop at a coarser
grid than large ones. Nothing here reads a label: the rule sees the counter's own readings, the
image's size and the stored numbers.

A tiling is written as the grid each region was read at: ``1`` (the whole image), ``2`` (the 2x2
grid) or ``2+4:0,3`` (the 2x2 grid with cells 0 and 3, row by row, read as their own 2x2 cells of
the 4x4 grid).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from syrac.config import Config, quadtree_grids
from syrac.method.features import patch_boxes
from syrac.method.model import read_model_file
from syrac.method.probe import LinearProbe


@dataclass(frozen=True)
class TilingRule:
    ceiling: float  # split a region counted above this
    finest: int  # the finest grid K (a power of 2): regions are never split below it
    split_saturated: bool = False  # also split a region whose 2x2 cells read more than it does
    smallest_cell: tuple[int, int] | None = None  # (height, width) in pixels no cell is split below; None: any

    def to_bundle(self) -> dict:
        """The stored rule; ``split_saturated`` and ``smallest_cell`` only where set, so a counter of the
        ceiling rule keeps its bytes (and counter files made before the options read as they did)."""
        saturated = {"split_saturated": True} if self.split_saturated else {}
        smallest = {"smallest_cell": list(self.smallest_cell)} if self.smallest_cell else {}
        return {"ceiling": self.ceiling, "finest": self.finest, **saturated, **smallest}

    @classmethod
    def from_bundle(cls, bundle: dict) -> TilingRule:
        smallest = bundle.get("smallest_cell")
        return cls(float(bundle["ceiling"]), int(bundle["finest"]), bool(bundle.get("split_saturated", False)),
                   tuple(int(side) for side in smallest) if smallest else None)

    @classmethod
    def from_counter(cls, path: Path) -> TilingRule:
        """The rule a counter file (``models/syrac.pt``) stores, without building its network."""
        return cls.from_bundle(read_model_file(path)["tiling"])

    @property
    def grids(self) -> tuple[int, ...]:
        return quadtree_grids(self.finest)

    def for_image(self, width: int, height: int) -> TilingRule:
        """The rule for one image of this size: the finest grid lowered to the finest whose cells are
        at least ``smallest_cell`` (the whole image is always read)."""
        if self.smallest_cell is None:
            return self
        min_height, min_width = self.smallest_cell
        finest = max(k for k in self.grids if k == 1 or (height / k >= min_height and width / k >= min_width))
        return replace(self, finest=finest, smallest_cell=None)


def configured_rule(cfg: Config, ceiling: float) -> TilingRule:
    """The rule params ``tiling`` set, at a probe's ceiling (``ceiling_of``); ``min_cell`` is a share
    of ``model.input_size``, stored in pixels."""
    share = cfg.tiling.min_cell
    smallest = tuple(round(share * side) for side in cfg.model.input_size) if share else None
    return TilingRule(ceiling, cfg.tiling.finest, cfg.tiling.split_saturated, smallest)


def ceiling_of(probe: LinearProbe, features: np.ndarray, prompted: np.ndarray) -> float:
    """The probe's median count of the counting set's images of its highest prompted N."""
    return float(np.median(probe.patch_counts(features[prompted == prompted.max()])))


@dataclass(frozen=True)
class Tile:
    k: int  # the grid it belongs to
    cell: int  # its index in that grid, row by row
    count: float


def children(k: int, cell: int) -> list[int]:
    """The four cells of grid 2K that make up ``cell`` of grid K, row by row."""
    row, col = divmod(cell, k)
    return [(2 * row + i) * 2 * k + 2 * col + j for i in range(2) for j in range(2)]


def choose_tiles(read: Callable[[int], np.ndarray], rule: TilingRule) -> list[Tile]:
    """The tiles of one image. ``read(k)`` gives the K*K patch counts of grid K, row by row; it is
    called once per grid, only for the grids a split reaches (and, splitting saturated regions, the
    grid below each one read), so a sparse image under the ceiling rule costs one reading."""
    readings: dict[int, np.ndarray] = {}

    def counts_of(grid: int) -> np.ndarray:
        if grid not in readings:
            readings[grid] = read(grid)
        return readings[grid]

    def splits(k: int, cell: int) -> bool:
        if k >= rule.finest:
            return False
        if counts_of(k)[cell] > rule.ceiling:
            return True
        return rule.split_saturated and bool(counts_of(2 * k)[children(k, cell)].sum() > counts_of(k)[cell])

    tiles, pending, k = [], [0], 1
    while pending:
        counts = counts_of(k)
        split = [cell for cell in pending if splits(k, cell)]
        tiles += [Tile(k, cell, float(counts[cell])) for cell in pending if cell not in split]
        pending, k = [child for cell in split for child in children(k, cell)], 2 * k
    return tiles


def describe(tiles: list[Tile]) -> str:
    """``1``, ``2`` or ``2+4:0,3``: the coarsest grid read, then each finer grid with the cells of
    the grid above it that were split into it."""
    grids = sorted({tile.k for tile in tiles})
    parts = [str(grids[0])]
    for k in grids[1:]:
        parents = sorted({child_parent(k, tile.cell) for tile in tiles if tile.k == k})
        parts.append(f"{k}:{','.join(map(str, parents))}")
    return "+".join(parts)


def child_parent(k: int, cell: int) -> int:
    """The cell of grid K/2 that ``cell`` of grid K lies in."""
    row, col = divmod(cell, k)
    return (row // 2) * (k // 2) + col // 2


def tile_boxes(tiles: list[Tile], width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Each tile's (left, top, right, bottom) box in the image: the same boxes its grid's patches were cut from."""
    return [patch_boxes(width, height, tile.k)[tile.cell] for tile in tiles]


def tile_cached(patch_counts: dict[int, np.ndarray], rule: TilingRule,
                sizes: np.ndarray | None = None) -> tuple[np.ndarray, list[str], list[int]]:
    """The tiling of every image from cached patch counts (``{K: N x K*K}``) and, for a rule with a
    smallest cell, the images' (width, height) (``N x 2``): each image's count, its tiling and the
    finest grid it read."""
    if rule.smallest_cell is not None and sizes is None:
        raise ValueError("the tiling rule has a smallest cell but no image sizes were given: features cached "
                         "before they stored the images' sizes; rerun `dvc repro`")
    totals, tilings, depths = [], [], []
    for image in range(len(patch_counts[1])):
        image_rule = rule if sizes is None else rule.for_image(*sizes[image])
        tiles = choose_tiles(lambda k, image=image: patch_counts[k][image], image_rule)
        totals.append(sum(tile.count for tile in tiles))
        tilings.append(describe(tiles))
        depths.append(max(tile.k for tile in tiles))
    return np.array(totals), tilings, depths
