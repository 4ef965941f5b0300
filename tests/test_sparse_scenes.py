"""The sparse-scene read-out: crops sorted by the heads they hold, counted whole at the right place."""

import numpy as np
import torch
from PIL import Image

from syrac.inference.count import Counter
from syrac.method.model import RankCounter
from syrac.method.probe import LinearProbe
from syrac.studies import sparse_scenes
from syrac.studies.sparse_scenes import BINS, MAX_CROPS_PER_BIN, random_boxes, read_out, sample_crops


def test_boxes_lie_inside_the_image_at_every_size():
    boxes = random_boxes(np.random.default_rng(0), 400, 300)
    assert len(boxes) == len(sparse_scenes.SIDE_FRACTIONS) * sparse_scenes.CROPS_PER_SIZE
    assert all(0 <= left < right <= 400 and 0 <= top < bottom <= 300 for left, top, right, bottom in boxes)
    widths = sorted({right - left for left, _, right, _ in boxes})
    assert widths == sorted(round(400 * f) for f in sparse_scenes.SIDE_FRACTIONS)


def test_crops_go_to_the_group_of_the_heads_they_hold():
    rng = np.random.default_rng(1)
    points = [rng.uniform([0, 0], [400, 300], size=(n, 2)) for n in (0, 3, 40, 400)]
    groups = sample_crops(np.random.default_rng(2), [(400, 300)] * 4, points)
    for name, crops in groups.items():
        low, high = BINS[name]
        for index, (left, top, right, bottom), heads in crops:
            inside = ((points[index][:, 0] >= left) & (points[index][:, 0] < right)
                      & (points[index][:, 1] >= top) & (points[index][:, 1] < bottom)).sum()
            assert heads == inside and low <= heads <= high
    assert all(index == 0 for index, *_ in groups["0"][:16])  # the empty image gives only empty crops
    assert groups["0"] and groups["1-5"] and groups["6-20"]


def test_each_group_is_capped():
    groups = sample_crops(np.random.default_rng(0), [(100, 100)] * 40, [np.zeros((0, 2))] * 40)
    assert len(groups["0"]) == MAX_CROPS_PER_BIN and groups["1-5"] == [] and groups["6-20"] == []


def test_crops_are_read_where_they_were_cut(tmp_path):
    """Left half white, right half black; the counter's feature is the mean normalised colour, so a crop
    counts above 2 in the white half and 0 in the black one."""
    pixels = np.zeros((120, 160, 3), np.uint8)
    pixels[:, :80] = 255
    Image.fromarray(pixels).save(tmp_path / "half.png")
    people = np.array([[20.0, 20.0], [30.0, 100.0]])  # two heads in the white half
    model = RankCounter(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), 3, precision="fp32")
    counter = Counter(model, LinearProbe(np.full(3, 1 / 3, np.float32), 0.0), (32, 32))
    summary, rows = read_out(counter, [tmp_path / "half.png"], [people], seed=0)
    for _, group, left, top, right, bottom, heads, count in rows:
        if right <= 80:
            assert count > 2.0
        elif left >= 80:
            assert count == 0.0 and group == "0" and heads == 0
    counted = [row for row in rows if row[1] == "1-5"]
    assert summary["1-5"]["crops"] == len(counted) > 0
    assert np.isclose(summary["1-5"]["mean_count"], np.mean([row[-1] for row in counted]), atol=0.01)
    assert summary["6-20"] == {"crops": 0, "mean_true": None, "mean_count": None, "mae": None}
