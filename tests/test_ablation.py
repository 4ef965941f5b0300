"""The ablation's baselines: intra-image crop pairs and end-to-end training on the noisy counts."""

import re

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from syrac import config, storage
from syrac.method import lite0
from syrac.method.pretrain import nested_crop_pairs, pretrain
from syrac.studies.ablation import init_strategy, initial_model, train_end_to_end, untrained_models


def _cfg(**sections):
    data = yaml.safe_load(open("params.yaml"))
    data["model"]["input_size"] = [32, 48]
    data["pretrain"].update(epochs=1, batch_size=4)
    for key, value in sections.items():
        data[key].update(value)
    return config.from_dict(data)


def _noise_images(folder, n: int, shape: tuple[int, int], seed: int) -> list:
    rng = np.random.default_rng(seed)
    paths = [folder / f"{i}.png" for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return paths


def test_nested_crops_rank_each_crop_below_its_parent(tmp_path):
    """Each image gives a chain image > crop 1 > crop 2 > ..., one pair per link, reproducible by seed."""
    paths = _noise_images(tmp_path, 3, (60, 80), seed=0)
    pairs = nested_crop_pairs(paths, (30, 40), crops=3, scale=0.5, seed=0)
    assert len(pairs) == 9 and pairs.images.shape == (12, 3, 30, 40)
    assert pairs.group.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert pairs.source.tolist() == [0, 1, 2, 4, 5, 6, 8, 9, 10]  # a chain: image > crop 1 > crop 2 > crop 3
    assert pairs.edit.tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
    again = nested_crop_pairs(paths, (30, 40), crops=3, scale=0.5, seed=0)
    assert torch.equal(again.images, pairs.images)
    assert not torch.equal(nested_crop_pairs(paths, (30, 40), 3, 0.5, seed=1).images, pairs.images)


def test_removal_edits_inpaint_regions_of_each_whole_photo_and_rank_them_below_it(tmp_path):
    """Each photo's whole image gains inpainted copies paired below it; the crops' pairs are untouched,
    each copy changes about its masks' share of the pixels, and the edits follow the seed."""
    from syrac.method.pretrain import removal_mask, with_removals

    paths = _noise_images(tmp_path, 3, (60, 80), seed=0)
    crops = nested_crop_pairs(paths, (30, 40), crops=2, scale=0.5, seed=0)
    pairs = with_removals(crops, edits=2, area=0.2, seed=0)
    assert len(pairs) == 6 + 6 and pairs.images.shape == (9 + 6, 3, 30, 40)
    assert torch.equal(pairs.images[:9], crops.images) and pairs.source[:6].tolist() == crops.source.tolist()
    assert pairs.source[6:].tolist() == [0, 0, 3, 3, 6, 6]  # each photo's whole image, above its copies
    assert pairs.edit[6:].tolist() == list(range(9, 15)) and pairs.group[6:].tolist() == [0, 0, 1, 1, 2, 2]
    for copy, whole in zip(pairs.images[9:], pairs.source[6:]):
        changed = (copy != pairs.images[whole]).any(dim=0)
        assert 0.02 < changed.float().mean() < 0.35  # noise inpainted smooth: about the masks' share changes
    assert torch.equal(with_removals(crops, 2, 0.2, seed=0).images, pairs.images)
    assert not torch.equal(with_removals(crops, 2, 0.2, seed=1).images, pairs.images)

    masks = [removal_mask((300, 400), 0.2, np.random.default_rng(i)) for i in range(50)]
    covered = np.array([(m > 0).mean() for m in masks])
    assert set(np.unique(masks[0])) == {0, 255} and 0.1 < covered.mean() < 0.2 and covered.max() <= 0.21


def test_removal_edits_aimed_at_people_inpaint_the_detected_people_first(tmp_path):
    """With boxes, each copy removes each detected person with probability 1/2 (as an ellipse over its
    box) and tops up with random regions only where those cover less than the area; a photo with
    nobody detected gets regions alone, and the edits follow the seed."""
    import cv2

    from syrac.method.pretrain import people_mask, with_removals

    box = np.array([[10.0, 10.0, 30.0, 70.0]])  # 20 x 60 in an 80 x 100 image: 0.16 of it as the ellipse over it
    person = cv2.ellipse(np.zeros((80, 100), np.uint8), (20, 40), (12, 34), 0.0, 0, 360, 255, -1) > 0
    masks = [people_mask((80, 100), box, 0.05, np.random.default_rng(i)) > 0 for i in range(40)]
    removed = [bool(m[person].all()) for m in masks]
    assert 10 < sum(removed) < 30  # about half the copies remove the person
    for mask, gone in zip(masks, removed):
        if gone:  # the person covers more than the area: nothing else is inpainted
            assert not mask[~person].any()
        else:  # random regions of about the area (which may overlap the person)
            assert 0 < mask.mean() <= 0.07
    assert np.mean([(people_mask((80, 100), box, 0.3, np.random.default_rng(i)) > 0).mean() for i in range(20)]) > 0.2

    paths = _noise_images(tmp_path, 2, (60, 80), seed=0)
    crops = nested_crop_pairs(paths, (30, 40), crops=1, scale=0.5, seed=0)
    people = [np.array([[5.0, 5.0, 15.0, 25.0]]), np.zeros((0, 4))]
    pairs = with_removals(crops, 3, 0.2, seed=0, people=people)
    assert pairs.source[2:].tolist() == [0, 0, 0, 2, 2, 2] and len(pairs.images) == 4 + 6
    assert torch.equal(with_removals(crops, 3, 0.2, seed=0, people=people).images, pairs.images)
    regions = with_removals(crops, 3, 0.2, seed=0)
    assert torch.equal(regions.images[7:], pairs.images[7:])  # nobody detected: the same regions as without boxes
    assert not torch.equal(regions.images[4:7], pairs.images[4:7])


def test_removal_edits_within_their_share_take_only_the_people_that_fit_and_keep_the_others_draws():
    """``people_within``: of the people drawn, only those that keep the copy within its share are
    inpainted, so a street full of detected walkers loses its share and no more."""
    from syrac.method.pretrain import people_mask

    boxes = np.array([[x, y, x + 12.0, y + 30.0] for x in range(0, 96, 16) for y in (5.0, 45.0)])  # 12 walkers
    for i in range(20):
        every = people_mask((80, 100), boxes, 0.1, np.random.default_rng(i)) > 0
        within = people_mask((80, 100), boxes, 0.1, np.random.default_rng(i), within=True) > 0
        assert within.mean() <= 0.12  # the share (the top-up's ellipses are rounded to pixels)
        if every.mean() > 0.2:
            assert within.mean() < every.mean() / 1.5  # half the walkers cover far more than the share
    with pytest.raises(ValueError, match="photo_removal_aim.*people_within"):
        _cfg(pretrain={"unlabelled_photos": [{"format": "shanghaitech", "root": "x", "split": "train"}],
                       "photo_removals": 1, "photo_removal_aim": "walkers"})


def test_removal_edits_aimed_at_people_read_the_cut_out_stage_s_boxes(tmp_path):
    from layouts import BUILDERS

    from syrac.method.pretrain import photo_pairs

    BUILDERS["shanghaitech"](tmp_path / "part_B", "train", [3, 5, 7])
    cfg = _cfg(pretrain={"unlabelled_photos": [{"format": "shanghaitech", "root": str(tmp_path / "part_B"),
                                                "split": "train"}], "photo_removals": 2, "photo_removal_aim": "people"})
    with pytest.raises(FileNotFoundError, match="boxes.csv.*dvc repro cut_out_people"):
        photo_pairs(cfg, tmp_path / "people")
    storage.write_csv(tmp_path / "people" / "boxes.csv", ["photo", "width", "height", "left", "top", "right",
                                                          "bottom", "score"], [])
    assert len(photo_pairs(cfg, tmp_path / "people")) == 2 * 2 + 2 * 2  # crops and copies of the two photos


def test_removal_edits_need_unlabelled_photos():
    with pytest.raises(ValueError, match="photo_removals.*unlabelled_photos"):
        _cfg(pretrain={"photo_removals": 1})
    with pytest.raises(ValueError, match="photo_removal_area"):
        _cfg(pretrain={"unlabelled_photos": [{"format": "shanghaitech", "root": "x", "split": "train"}],
                       "photo_removals": 1, "photo_removal_area": 1.0})
    with pytest.raises(ValueError, match="photo_removal_aim.*regions or people"):
        _cfg(pretrain={"photo_removal_aim": "faces"})


def test_intra_image_pairs_train_with_the_same_trainer(tmp_path):
    paths = _noise_images(tmp_path, 8, (64, 96), seed=1)
    cfg = _cfg()
    model, summary = pretrain(cfg, nested_crop_pairs(paths, cfg.model.input_size, 2, 0.6, cfg.seed))
    assert summary["holdout_pairs"] == 2 * 1 and summary["train_pairs"] == 2 * 7  # 15% of 8 sources -> 1
    assert (model.head.weight >= 0).all()


def test_end_to_end_training_fits_the_noisy_counts():
    cfg = _cfg(pretrain={"lr": 1e-3})
    images = torch.randint(0, 256, (16, 3, 32, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    targets = np.linspace(0, 60, 16)
    _, summary = train_end_to_end(cfg, images, targets, epochs=8)
    rmse = summary["train_rmse_by_epoch"]
    assert len(rmse) == 8 and rmse[-1] < 0.8 * rmse[0]


def test_the_untrained_strategy_is_named_after_its_initialisation_and_is_seeded():
    cfg = _cfg()
    assert init_strategy(cfg) == "random_init_features"
    assert init_strategy(_cfg(model={"pretrained": "imagenet"})) == "imagenet_features"
    first, second = initial_model(cfg), initial_model(cfg)
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_table_3_reads_the_random_encoder_and_an_imagenet_one_in_every_run():
    stem = lite0.imagenet_lite0().state_dict()["_conv_stem.weight"]
    models = untrained_models(_cfg(model={"backbone": "efficientnet_lite0", "pretrained": "imagenet"}))
    assert list(models) == ["random_init_features", "imagenet_features"]
    random, imagenet = (models[name].state_dict()["encoder._conv_stem.weight"] for name in models)
    assert torch.equal(imagenet, stem) and not torch.allclose(random, imagenet)
    # SYRAC from random weights: the ImageNet row reads the ImageNet weights every install has
    models = untrained_models(_cfg())
    assert list(models) == ["random_init_features", "imagenet_features"]
    assert torch.equal(models["imagenet_features"].state_dict()["encoder._conv_stem.weight"], stem)
    assert not any(isinstance(m, lite0.EfficientNetLite0) for m in models["random_init_features"].modules())


@pytest.mark.parametrize(
    "key, value, message", [("intra_crops", 0, "in [1, 16]"), ("intra_crop_scale", 1.0, "in (0, 1)")]
)
def test_ablation_parameters_are_validated(key, value, message):
    data = yaml.safe_load(open("params.yaml"))
    data["ablation"][key] = value
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.from_dict(data)


def test_patch_true_counts_split_the_heads_by_grid_cell(tmp_path):
    from syrac import storage
    from syrac.inference.evaluation import patch_true_counts

    Image.new("RGB", (100, 60)).save(tmp_path / "a.jpg")
    storage.write_json(tmp_path / "a.json", {"points": [[10, 10], [60, 10], [99, 59], [49.9, 29.9], [50, 30]]})
    counts = patch_true_counts(tmp_path, ["a.jpg"], [tmp_path / "a.jpg"], 2)
    assert counts.tolist() == [[2, 1, 0, 2]]  # cells row by row: top-left, top-right, bottom-left, bottom-right
    assert patch_true_counts(tmp_path, ["a.jpg"], [tmp_path / "a.jpg"], 1).tolist() == [[5]]


def test_unlabelled_photos_join_the_training_pairs_only_and_no_annotation_is_read(tmp_path):
    """Nested crops of real photos train the rank network beside the synthetic pairs, while model
    selection stays on held-out synthetic pairs; the photos' annotations are never opened."""
    from layouts import BUILDERS

    from syrac.method.pretrain import photo_pairs

    BUILDERS["shanghaitech"](tmp_path / "part_B", "train", [3, 5, 7])
    for annotation in (tmp_path / "part_B/train_data/ground-truth").iterdir():
        annotation.write_bytes(b"not a MATLAB file: reading it would fail")
    photos_cfg = _cfg(pretrain={"unlabelled_photos": [{"format": "shanghaitech", "root": str(tmp_path / "part_B"),
                                                       "split": "train"}], "photo_crops": 2})
    # IMG_1, first of the sorted listing, is the development part: held out
    photos = photo_pairs(photos_cfg, tmp_path / "people")
    assert len(photos) == 4 and photos.group.tolist() == [0, 0, 1, 1]
    assert photo_pairs(_cfg(), tmp_path / "people") is None  # none declared (the default)

    synthetic_paths = _noise_images(tmp_path, 20, (40, 60), seed=3)
    synthetic = nested_crop_pairs(synthetic_paths, (32, 48), crops=1, scale=0.5, seed=0)
    _, alone = pretrain(_cfg(), synthetic)
    _, mixed = pretrain(photos_cfg, synthetic, photos=photos)
    assert mixed["holdout_pairs"] == alone["holdout_pairs"] == 3  # 15% of 20 synthetic sources, nothing else
    assert mixed["train_pairs"] == alone["train_pairs"] + 4
