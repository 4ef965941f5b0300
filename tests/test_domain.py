"""Label-free encoder fitting around rank pre-training: the rotation pretext task (lever 2), AdaBN
(lever 3), and the simulator's person zoom (lever 4)."""

import numpy as np
import pytest
import torch
import yaml
from test_ablation import _cfg, _noise_images

from syrac import config
from syrac.method.domain import adapt_batch_norm, rotation_pretext
from syrac.method.model import new_model, normalise, to_batch
from syrac.method.pretrain import nested_crop_pairs, pretrain
from syrac.synthetic import generate, sim


def _fp32_model():
    cfg = _cfg(model={"precision": "fp32"})
    return new_model(cfg.model)


def _lit_from_above(n: int, seed: int) -> torch.Tensor:
    """Noise images that are bright at the top and dark at the bottom: which way up a crop was
    turned shows in where its light comes from, so the rotation is learnable."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(230, 20, 32)[:, None, None]
    images = np.clip(ramp + rng.normal(0, 20, (n, 32, 48, 3)), 0, 255).astype(np.uint8)
    return to_batch(images)


def test_rotation_pretext_learns_which_way_up_and_trains_the_encoder():
    torch.manual_seed(0)
    model = _fp32_model()
    before = model.encoder.conv1.weight.detach().clone()
    head_before = model.head.weight.detach().clone()
    history = rotation_pretext(model, _lit_from_above(64, 0), epochs=4, batch_size=16, lr=1e-3,
                               generator=torch.Generator().manual_seed(0))
    assert len(history) == 4 and history[-1]["rotation_loss"] < history[0]["rotation_loss"]
    assert history[-1]["rotation_accuracy"] > 0.6  # chance is 0.25
    assert not torch.equal(model.encoder.conv1.weight, before)
    assert torch.equal(model.head.weight, head_before)  # the rank head is not part of the pretext task


def test_adapt_batch_norm_takes_the_statistics_of_the_given_images():
    model = _fp32_model().eval()
    images = _lit_from_above(24, 1)
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    adapt_batch_norm(model, images, batch_size=8)
    with torch.no_grad():
        stem = model.encoder.conv1(normalise(images))
    expected = stem.mean(dim=(0, 2, 3))
    assert torch.allclose(model.encoder.bn1.running_mean, expected, atol=1e-4)
    assert model.encoder.bn1.momentum == 0.1 and not model.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())


def test_pretrain_runs_the_pretext_first_and_adapts_to_the_photos_last(tmp_path):
    synthetic = nested_crop_pairs(_noise_images(tmp_path, 12, (40, 60), seed=4), (32, 48), 1, 0.5, seed=0)
    (tmp_path / "photos").mkdir()
    photos = nested_crop_pairs(_noise_images(tmp_path / "photos", 4, (50, 70), seed=5), (32, 48), 1, 0.5, seed=0)
    declared = {"unlabelled_photos": [{"format": "shanghaitech", "root": "part_B", "split": "train"}]}
    plain_model, plain = pretrain(_cfg(pretrain=declared), synthetic, photos=photos)
    model, summary = pretrain(_cfg(pretrain={**declared, "self_supervised_epochs": 1, "adapt_bn": True}),
                              synthetic, photos=photos)
    assert set(summary["self_supervised"]) == {"rotation_loss", "rotation_accuracy"}
    assert 0 <= summary["holdout_ranking_accuracy_after_adapt_bn"] <= 1
    assert "self_supervised" not in plain and "holdout_ranking_accuracy_after_adapt_bn" not in plain
    assert not torch.equal(model.encoder.bn1.running_mean, plain_model.encoder.bn1.running_mean)
    with pytest.raises(ValueError, match="unlabelled_photos"):
        pretrain(_cfg(pretrain={**declared, "adapt_bn": True}), synthetic)


def test_person_zoom_scales_the_people_of_the_same_scene():
    data = yaml.safe_load(open("params.yaml"))
    plain = generate.source_scene(config.from_dict(data), 3)
    data["sources"]["person_zoom"] = [2.0, 2.0]
    zoomed = generate.source_scene(config.from_dict(data), 3)
    assert zoomed.count == plain.count and zoomed.horizon == plain.horizon
    assert zoomed.person_scale == pytest.approx(2 * plain.person_scale)
    data["sources"]["person_zoom"] = [0.5, 2.0]
    zooms = [scene.style.person_height[0] / sim.STYLES[scene.style.name].person_height[0]
             for scene in (generate.source_scene(config.from_dict(data), i) for i in range(20))]
    assert 0.5 <= min(zooms) < 0.8 and 1.25 < max(zooms) <= 2.0  # drawn per source, both ways
