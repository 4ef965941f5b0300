"""The scale relations (syrac.method.scale): views, mosaics, the loss, and rank pre-training with them."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_pretrain import random_pairs, tiny_cfg

from syrac import config
from syrac.method.pretrain import RelationImages, pretrain, step_inputs
from syrac.method.scale import log_ratio_loss, mosaics, quarter_views, relation_loss, relation_views, whole_views


def _images(n, height=8, width=12, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, height, width), dtype=np.uint8)).float()


def test_quarters_are_the_cells_row_by_row_and_mosaics_put_them_back():
    images = _images(2)
    quarters = quarter_views(images)
    assert quarters.shape == (8, 3, 4, 6)
    assert torch.equal(quarters[1], images[0, :, :4, 6:])  # top right
    assert torch.equal(quarters[6], images[1, :, 4:, :6])  # the second image's bottom left
    assert torch.equal(mosaics(quarters), images)
    assert mosaics(quarters[:7]).shape == (1, 3, 8, 12)  # a last incomplete four is left out


def test_a_whole_view_keeps_the_mean_brightness_of_what_it_shows():
    image = torch.zeros(1, 3, 16, 16)
    image[..., :8, :8] = 255  # one bright quarter
    view = whole_views(image, (8, 8))
    assert view.shape == (1, 3, 8, 8)
    assert float(view.mean()) == pytest.approx(255 / 4, rel=1e-3)


def test_the_loss_is_zero_for_additive_readings_and_log_4_squared_for_a_saturated_one():
    parts = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 0.5, 9.0]) + 30  # softplus is the identity up there
    additive = torch.stack([parts[:4].sum(), parts[4:].sum()])
    assert float(log_ratio_loss(additive, parts)) == pytest.approx(0.0, abs=1e-6)
    saturated = torch.stack([parts[:4].mean(), parts[4:].mean()])  # the whole reads as one of its parts
    assert float(log_ratio_loss(saturated, parts)) == pytest.approx(math.log(4) ** 2, rel=1e-4)
    features = torch.stack([additive, 2 * additive], dim=1)  # N x D readings: each feature its own
    assert float(log_ratio_loss(features, torch.stack([parts, 2 * parts], dim=1))) == pytest.approx(0.0, abs=1e-6)


def test_relation_views_and_loss_line_up_zoom_in_and_zoom_out():
    images = _images(8, 16, 24)
    views = relation_views(images, (8, 12))
    assert views.shape == (8 + 32 + 2, 3, 8, 12)
    assert torch.equal(views[8:12], quarter_views(images)[:4])

    def dark_pixels(batch):
        """A reading that is additive up to resampling: the summed darkness of a view, per view pixel,
        scaled by how much of an original image it spans (1 for a whole, 1/4 for a quarter,
        4 for a mosaic). Exact area bookkeeping stands in for a counter that counts right."""
        return (255 - batch).mean((1, 2, 3))

    readings = dark_pixels(views)
    area = torch.cat([torch.ones(8), torch.full((32,), 0.25), torch.full((2,), 4.0)])
    assert float(relation_loss(readings * area + 30, 8)) < float(relation_loss(readings + 30, 8))
    assert float(relation_loss(readings * area, 8)) == pytest.approx(0.0, abs=2e-3)


def _relations(n_sources=10):
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (n_sources + 2, 3, 64, 64), dtype=np.uint8))
    return RelationImages(images, np.array(list(range(n_sources)) + [-1, -1]))


@pytest.mark.parametrize("target", ["head", "features"])
def test_rank_pretraining_with_the_relations_trains_and_repeats(target):
    cfg = tiny_cfg(epochs=2, scale_relations=1.0, scale_images=4, scale_target=target)
    model, summary = pretrain(cfg, random_pairs(), relations=_relations())
    again, repeated = pretrain(cfg, random_pairs(), relations=_relations())
    assert summary == repeated and math.isfinite(summary["train_loss"])
    assert all(torch.equal(t, again.state_dict()[n]) for n, t in model.state_dict().items())
    plain, _ = pretrain(tiny_cfg(epochs=2), random_pairs())
    assert not torch.equal(plain.state_dict()["head.weight"], model.state_dict()["head.weight"])


def test_a_step_s_input_is_its_sources_then_edits_then_the_relation_views():
    cfg = tiny_cfg(scale_relations=1.0, scale_images=4)
    pairs, batch = random_pairs(), torch.tensor([3, 0, 5])
    plain, drawn = step_inputs(pairs, batch, cfg.pretrain, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert drawn == 0 and plain.shape == (6, 3, 32, 32) and plain.dtype == torch.float32
    unflipped = replace(cfg.pretrain, flip=False, brightness=0.0)
    images, _ = step_inputs(pairs, batch, unflipped, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(images, pairs.images[torch.cat([pairs.source[batch], pairs.edit[batch]])].float() / 255)
    relations = _relations()
    inputs, drawn = step_inputs(pairs, batch, cfg.pretrain, torch.Generator().manual_seed(0), torch.device("cpu"),
                                relations)
    # 4 relation images: 4 wholes, 16 quarters, 1 mosaic of the four, after the 6 pair images
    assert drawn == 4 and inputs.shape == (6 + 4 + 16 + 1, 3, 32, 32) and torch.equal(inputs[:6], plain)


def test_the_relations_are_refused_out_of_range():
    with pytest.raises(config.ConfigError) as error:
        tiny_cfg(epochs=2, scale_relations=-1.0, scale_images=0, scale_target="pixels")
    text = str(error.value)
    assert "pretrain.scale_relations" in text and "pretrain.scale_images" in text and "head or features" in text


def test_the_mosaic_patch_is_four_half_size_copies_at_the_input_size():
    from PIL import Image

    from syrac.method.features import mosaic_patch, resize

    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:20, :30] = 255  # a bright top-left quarter
    image = Image.fromarray(pixels)
    view = mosaic_patch(image, (20, 30))
    assert view.shape == (20, 30, 3)
    half = resize(image, (10, 15))
    for top, left in ((0, 0), (0, 15), (10, 0), (10, 15)):
        assert np.abs(view[top:top + 10, left:left + 15].astype(int) - half.astype(int)).max() <= 1


def test_zoom_ratios_read_the_counter_s_own_counts_of_cells_and_mosaics():
    from syrac.inference.evaluation import zoom_ratios
    from syrac.method.probe import LinearProbe

    probe = LinearProbe(np.array([1.0, 0.0], np.float32), 0.0)
    whole = np.array([[[10.0, 5.0]], [[20.0, 5.0]], [[0.0, 5.0]]])  # the last image reads 0: no ratio
    cells = np.repeat(whole / 2, 4, axis=1)  # its four cells read half the whole each: 2x
    mosaic = 1.5 * whole  # four copies read 1.5 times one: a saturating counter
    assert zoom_ratios(probe, {"k1": whole, "k2": cells, "mosaic": mosaic}) == {"zoom_in": 2.0, "zoom_out": 1.5}
    assert zoom_ratios(probe, {"k1": whole}) == {}
