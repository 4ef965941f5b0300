"""The per-image tiling: which regions it splits, what it reads to decide, and how it writes a tiling down."""

from dataclasses import replace

import numpy as np
import pytest
from repo import REPO

from syrac import config
from syrac.inference.tiling import (
    Tile,
    TilingRule,
    ceiling_of,
    children,
    choose_tiles,
    configured_rule,
    describe,
    tile_boxes,
    tile_cached,
)
from syrac.method.probe import LinearProbe


def _reader(grids: dict[int, list[float]]):
    """read(k) over hand-made grid counts, remembering which grids were read."""
    calls = []

    def read(k):
        calls.append(k)
        return np.asarray(grids[k], dtype=float)
    return read, calls


DENSE = {1: [400.0], 2: [10.0, 300.0, 5.0, 5.0], 4: list(np.arange(16.0))}


def test_a_sparse_image_is_read_whole_and_nothing_finer_is_counted():
    read, calls = _reader({1: [40.0], 2: [30.0] * 4})
    tiles = choose_tiles(read, TilingRule(ceiling=100.0, finest=4))
    assert tiles == [Tile(1, 0, 40.0)] and calls == [1] and describe(tiles) == "1"


def test_a_dense_image_is_split_and_only_its_dense_cells_go_finer():
    read, calls = _reader(DENSE)
    tiles = choose_tiles(read, TilingRule(ceiling=100.0, finest=4))
    assert calls == [1, 2, 4]
    assert [(t.k, t.cell) for t in tiles] == [(2, 0), (2, 2), (2, 3), (4, 2), (4, 3), (4, 6), (4, 7)]
    assert sum(t.count for t in tiles) == 10 + 5 + 5 + (2 + 3 + 6 + 7)
    assert describe(tiles) == "2+4:1"


def test_the_finest_grid_stops_the_split_even_above_the_ceiling():
    read, calls = _reader(DENSE)
    tiles = choose_tiles(read, TilingRule(ceiling=100.0, finest=2))
    assert calls == [1, 2] and describe(tiles) == "2" and sum(t.count for t in tiles) == 320
    assert describe(choose_tiles(_reader(DENSE)[0], TilingRule(ceiling=100.0, finest=1))) == "1"


def test_every_cell_split_reads_as_the_finer_grid():
    read, _ = _reader({1: [900.0], 2: [200.0] * 4, 4: [1.0] * 16})
    tiles = choose_tiles(read, TilingRule(ceiling=100.0, finest=4))
    assert describe(tiles) == "4" and len(tiles) == 16


def test_a_count_at_the_ceiling_is_not_split():
    read, calls = _reader({1: [100.0]})
    assert describe(choose_tiles(read, TilingRule(ceiling=100.0, finest=2))) == "1" and calls == [1]


@pytest.mark.parametrize("k,cell,expected", [(1, 0, [0, 1, 2, 3]), (2, 1, [2, 3, 6, 7]), (2, 2, [8, 9, 12, 13]),
                                             (4, 5, [18, 19, 26, 27])])
def test_children_are_the_four_cells_of_the_next_grid(k, cell, expected):
    assert children(k, cell) == expected


@pytest.mark.parametrize("size", [(97, 61), (640, 480), (5, 7)])
def test_the_tiles_of_a_mixed_tiling_cover_the_image_exactly_once(size):
    tiles = choose_tiles(_reader(DENSE)[0], TilingRule(ceiling=100.0, finest=4))
    cover = np.zeros(size[::-1], dtype=int)
    for left, top, right, bottom in tile_boxes(tiles, *size):
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()


def test_the_ceiling_is_the_probes_median_reading_of_the_densest_prompt():
    features = np.array([[1.0], [2.0], [50.0], [70.0], [90.0]])
    prompted = np.array([0, 5, 200, 200, 200])
    probe = LinearProbe(np.array([2.0]), -10.0)
    assert ceiling_of(probe, features, prompted) == 130.0  # median of 90, 130, 170


def test_cached_tiling_matches_the_rule_image_by_image():
    counts = {1: np.array([[40.0], [400.0]]), 2: np.array([[30.0] * 4, [10.0, 300.0, 5.0, 5.0]]),
              4: np.array([[1.0] * 16, np.arange(16.0)])}
    totals, tilings, finest = tile_cached(counts, TilingRule(ceiling=100.0, finest=4))
    assert totals.tolist() == [40.0, 38.0] and tilings == ["1", "2+4:1"] and finest == [1, 4]
    assert TilingRule(100.0, 4).grids == (1, 2, 4) and TilingRule(1.0, 1).grids == (1,)
    assert TilingRule.from_bundle(TilingRule(123.5, 2).to_bundle()) == TilingRule(123.5, 2)


def test_splitting_saturated_regions_reads_the_cells_where_they_read_more_than_the_whole():
    """Under the ceiling a whole image is split only with ``split_saturated``, and only where its cells
    read more: a saturated whole of 80 whose quarters read 30 each is read as its cells (120); one
    whose quarters read 15 each stays whole. A cell split again needs its own cells to read more. Each
    grid is read once, and the option round-trips through the counter file (absent: the ceiling rule)."""
    saturated = TilingRule(ceiling=100.0, finest=4, split_saturated=True)
    read, calls = _reader({1: [80.0], 2: [30.0, 30.0, 30.0, 30.0], 4: [10.0] * 6 + [5.0] * 10})
    tiles = choose_tiles(read, saturated)
    assert calls == [1, 2, 4] and describe(tiles) == "2+4:0"
    assert sum(t.count for t in tiles) == 40.0 + 30.0 * 3
    read, calls = _reader({1: [80.0], 2: [15.0] * 4})
    assert describe(choose_tiles(read, saturated)) == "1" and calls == [1, 2]
    assert describe(choose_tiles(_reader({1: [80.0], 2: [30.0] * 4})[0], TilingRule(100.0, 4))) == "1"
    assert TilingRule.from_bundle(saturated.to_bundle()) == saturated
    assert TilingRule(100.0, 4).to_bundle() == {"ceiling": 100.0, "finest": 4}


def test_a_smallest_cell_stops_small_images_at_a_coarser_grid():
    """With a smallest cell of 96x128 pixels, an image of 384x512 may read its 4x4 grid (cells of
    96x128), one of 192x256 its 2x2 grid only, one smaller than 192x256 its whole: the same dense
    readings tile the three differently. Cached tiling needs the sizes; the cell round-trips through the
    counter file."""
    rule = TilingRule(ceiling=100.0, finest=4, smallest_cell=(96, 128))
    assert [rule.for_image(w, h).finest for w, h in ((512, 384), (256, 192), (250, 180), (2048, 1536))] == [4, 2, 1, 4]
    assert TilingRule(100.0, 4).for_image(10, 10) == TilingRule(100.0, 4)
    counts = {k: np.array([DENSE[k]] * 3) for k in (1, 2, 4)}
    totals, tilings, finest = tile_cached(counts, rule, np.array([[512, 384], [256, 192], [250, 180]]))
    assert tilings == ["2+4:1", "2", "1"] and finest == [4, 2, 1] and totals.tolist() == [38.0, 320.0, 400.0]
    with pytest.raises(ValueError, match="no image sizes"):
        tile_cached(counts, rule)
    assert TilingRule.from_bundle(rule.to_bundle()) == rule
    assert rule.to_bundle()["smallest_cell"] == [96, 128]


def test_configured_rule_stores_params_min_cell_in_pixels_of_the_input():
    cfg = config.load(REPO / "params.yaml")
    cfg = replace(cfg, model=replace(cfg.model, input_size=(192, 256)),
                  tiling=replace(cfg.tiling, finest=4, split_saturated=True, min_cell=0.5))
    assert configured_rule(cfg, 321.0) == TilingRule(321.0, 4, True, (96, 128))
    assert configured_rule(replace(cfg, tiling=replace(cfg.tiling, min_cell=0.0)), 1.0).smallest_cell is None
