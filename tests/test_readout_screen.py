"""Read-out levers screened on a finished run's features (syrac.tools.readout_screen): the counting set's
mosaics hold their four images and the sum of their labels, a standardised probe reads raw features as it
read standardised ones, and a screen of a trained run reproduces its own evaluation before anything changes."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from repo import REPO

from syrac import config, storage
from syrac.method.features import encode, patch_boxes
from syrac.method.model import RankCounter
from syrac.method.probe import LinearProbe
from syrac.tools import readout_screen, report


def test_a_counting_mosaic_shows_its_four_images_and_is_labelled_with_the_sum_of_theirs(tmp_path):
    shades = [130, 150, 170, 190, 210, 250]  # every channel above ImageNet's mean: features past ReLU's zero
    paths = []
    for shade in shades:
        paths.append(tmp_path / f"n{shade}.png")
        Image.new("RGB", (48, 32), (shade, 380 - shade, shade)).save(paths[-1])
    targets = np.array([0.0, 1.0, 5.0, 10.0, 50.0, 100.0])
    mean_colour = RankCounter(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), 3,
                              precision="fp32")  # its features: each channel's mean, normalised
    single, _ = readout_screen.counting_mosaics(mean_colour, paths, targets, 0, seed=0, size=(32, 48))
    features, labels = readout_screen.counting_mosaics(mean_colour, paths, targets, 5, seed=0, size=(32, 48))
    assert single.shape == (0, 3) and features.shape == (5, 3)
    picks = np.stack([np.random.default_rng([0, i]).choice(len(paths), 4, replace=False) for i in range(5)])
    assert labels.tolist() == targets[picks].sum(axis=1).tolist()
    one = encode(mean_colour, [np.asarray(Image.open(p)) for p in paths])
    np.testing.assert_allclose(features, one[picks].mean(axis=1), atol=0.02)  # each image a quarter of the mosaic
    again, _ = readout_screen.counting_mosaics(mean_colour, paths, targets, 3, seed=0, size=(32, 48))
    np.testing.assert_array_equal(again, features[:3])  # fewer mosaics are the first of more: variants nest


def test_a_standardised_probe_reads_raw_features_as_its_fit_read_standardised_ones():
    rng = np.random.default_rng(0)
    x = rng.random((7, 4)) * [1.0, 10.0, 0.1, 3.0]
    centre, spread = x.mean(axis=0), x.std(axis=0) + 1e-6
    fitted = LinearProbe(rng.normal(size=4), 2.5)
    for shift in (None, centre):
        raw = readout_screen.standardised(fitted, shift, spread)
        moved = x - (0.0 if shift is None else shift)
        np.testing.assert_allclose(x @ raw.weight + raw.bias, (moved / spread) @ fitted.weight + fitted.bias)


def test_a_screen_reproduces_the_runs_own_readings_and_combines_into_a_lever_table(tiny_repo, tmp_path):
    first = tmp_path / "seed0.json"
    assert readout_screen.main(["--root", str(tiny_repo), "--mosaics", "2", "5", "--oracle", "--out", str(first)]) == 0
    screen = storage.read_json(first)
    evaluated = json.loads((tiny_repo / "metrics/eval.json").read_text())
    for name, metrics in evaluated.items():
        for split, expected in (("test", metrics), ("development", metrics["development"])):
            variants = screen["readouts"][split][name]
            assert set(variants) == {"counter", "mosaics_2", "mosaics_5", "standardised_scale", "standardised_full",
                                     "oracle_joint", "oracle_own"}
            assert variants["counter"]["mae"] == pytest.approx(expected["mae"])  # the workspace's own counter
            assert variants["counter"]["tiling"]["mae"] == pytest.approx(expected["tiling"]["mae"])
    assert screen["machine"]["cpu"] and screen["seed"] == 0
    moved = [screen["readouts"]["test"][name]["mosaics_5"]["tiling"]["mae"] != pytest.approx(
        screen["readouts"]["test"][name]["counter"]["tiling"]["mae"]) for name in evaluated]
    assert any(moved)  # the mosaics refit the probe

    second = tmp_path / "seed1.json"
    storage.write_json(second, {**screen, "seed": 1})
    combined = tmp_path / "screens.json"
    assert readout_screen.main(["--combine", str(first), str(second), "--out", str(combined)]) == 0
    summary = storage.read_json(combined)
    a_dev = summary["shanghaitech_a"]["development"]["tiling"]
    assert set(a_dev["seeds"]) == {"0", "1"} and a_dev["mean"]["mae"] == pytest.approx(
        screen["readouts"]["development"]["shanghaitech_a"]["counter"]["tiling"]["mae"])
    table = report.levers_table([("the counter", summary, "counter"), ("mosaics", summary, "mosaics_5")],
                                ["shanghaitech_a", "shanghaitech_b"])
    assert len(table.splitlines()) == 4 and "| the reference |" in table  # header, rule, two levers
    assert readout_screen.main(["--combine", str(first), str(first), "--out", str(combined)]) == 2  # one seed twice
    anchored = tmp_path / "removals.json"  # the tiny photos hold no one the detector is sure of: nothing to anchor
    assert readout_screen.main(["--root", str(tiny_repo), "--removals", "1", "--out", str(anchored)]) == 2
    assert not anchored.exists()


def test_the_oracle_is_ridge_on_the_heads_annotated_in_each_cell_of_the_development_parts(tmp_path):
    """Features that add up as people do (a whole image's are its cells' sum), each cell's heads a linear
    function of them: the oracle fitted on the annotated heads reads the images at either grid, and the
    joint one both benchmarks at once."""
    rng, weight = np.random.default_rng(0), np.array([2.0, 0.5, 0.0])
    features_dir, truth_dir = (tmp_path / folder for folder in readout_screen.SPLITS["development"])
    features_dir.mkdir(parents=True)
    for name, scale in (("street", 3), ("crowd", 60)):
        cells = rng.integers(0, scale, (12, 4, 3)) * [1, 2, 1]  # the 2x2 grid's cells, each count a whole number
        images, rows = [f"{i}.jpg" for i in range(12)], ["image,path,md5"]
        (truth_dir / name).mkdir(parents=True)
        (tmp_path / "photos" / name).mkdir(parents=True)
        for image, heads in zip(images, cells @ weight):
            Image.new("RGB", (40, 30)).save(tmp_path / "photos" / name / image)
            rows.append(f"{image},photos/{name}/{image},-")
            points = [[left + 1, top + 1] for (left, top, _, _), n in zip(patch_boxes(40, 30, 2), heads)
                      for _ in range(round(n))]
            storage.write_json(truth_dir / name / f"{Path(image).stem}.json", {"points": points})
        listed = tmp_path / "data/benchmarks_train" / name
        listed.mkdir(parents=True)
        (listed / "development.csv").write_text("\n".join(rows) + "\n")
        np.savez(features_dir / f"{name}.npz", images=images, k1=cells.sum(axis=1, keepdims=True), k2=cells)
    cfg = config.load(REPO / "params.yaml")
    street, crowd = (readout_screen.oracle_cells(tmp_path, name, (1, 2)) for name in ("street", "crowd"))
    joint = readout_screen.oracle_probe([street, crowd], cfg)
    for name in ("street", "crowd"):
        with np.load(features_dir / f"{name}.npz") as data:
            for k in ("k1", "k2"):
                np.testing.assert_allclose(joint.image_counts(data[k]), (data["k2"] @ weight).sum(axis=1), rtol=0.01,
                                           atol=0.5)  # the least penalty of the grid shrinks it a little
    own = readout_screen.oracle_probe([street], cfg)
    assert not np.allclose(own.weight, joint.weight)  # fitted on the street's heads alone


def test_the_screen_refuses_a_workspace_without_a_run_and_an_empty_mosaic_count(tmp_path, capsys):
    assert readout_screen.main(["--root", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    with pytest.raises(SystemExit):
        readout_screen.main(["--mosaics", "0", "--out", str(tmp_path / "x.json")])


@pytest.mark.parametrize("summary", ["levers/zen3_default_readout_screens_seeds",
                                     "real/levers/zen3_readout_screens_seeds",
                                     "real/levers/removal_anchors_screens_seeds",
                                     "real/levers/oracle_screens_seeds"])
def test_a_committed_screen_summary_is_its_seeds_screens_combined(summary):
    """The lever tables of docs/count-scale.md read these summaries; each seed's screen is kept beside them."""
    seeds = sorted((REPO / "metrics" / summary.removesuffix("_seeds")).glob("seed_*.json"))
    assert len(seeds) >= 2
    assert readout_screen.combine(seeds) == storage.read_json(REPO / "metrics" / f"{summary}.json")


def test_removal_anchors_set_the_probe_on_what_the_counting_set_leaves_open_and_change_nothing_without_them():
    from syrac.method.readouts.ridge import Anchors, fit_ridge

    rng = np.random.default_rng(0)
    renders = np.column_stack([rng.random(40) * 10, np.zeros(40)])  # the counting set never shows feature 1
    labels = 3.0 * renders[:, 0] + 1.0
    plain = fit_ridge(renders, labels, 1e-4)
    assert abs(plain.weight[1]) < 1e-9
    differences = np.column_stack([np.zeros(20), rng.random(20) + 0.5])  # photos less their copies
    anchored = fit_ridge(renders, labels, 1e-4, anchors=Anchors(differences, 2.0 * differences[:, 1], 1.0))
    assert anchored.weight[1] == pytest.approx(2.0, rel=0.02)  # each removed person reads as one
    assert anchored.weight[0] == pytest.approx(plain.weight[0], rel=1e-6) and anchored.bias == pytest.approx(plain.bias)
    light = fit_ridge(renders, labels, 1e-4, anchors=Anchors(differences, 2.0 * differences[:, 1], 1e-4))
    assert 0 < light.weight[1] < anchored.weight[1]  # the weight is the anchors' pull against the penalty

    probe = readout_screen.rescaled(LinearProbe(np.array([1.0, 4.0]), 2.0), differences, 2.0 * differences[:, 1])
    np.testing.assert_allclose(probe.weight, [0.5, 2.0])  # the one factor that reads the differences exactly
    assert probe.bias == pytest.approx(1.0)


def test_removal_differences_pair_each_photo_the_detector_is_sure_of_with_its_people_inpainted(tmp_path):
    from layouts import BUILDERS

    from syrac import config
    from syrac.data.datasets import unlabelled_photos
    from syrac.tools.readout_screen import removal_differences

    BUILDERS["shanghaitech"](tmp_path / "part_B", "train", [3, 5, 7, 9, 11, 13])
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["pretrain"]["unlabelled_photos"] = [{"format": "shanghaitech", "root": str(tmp_path / "part_B"),
                                                "split": "train"}]
    cfg = config.from_dict(params)
    photos = unlabelled_photos(cfg.pretrain.unlabelled_photos)  # the training photos less the development part
    held_out = sorted(set((tmp_path / "part_B/train_data/images").glob("*.jpg")) - set(photos))
    mean_colour = RankCounter(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), 3,
                              precision="fp32")
    with pytest.raises(FileNotFoundError, match="boxes.csv: not found.*cut_out_people"):
        removal_differences(mean_colour, tmp_path, cfg, (32, 48))
    header = ["photo", "width", "height", "left", "top", "right", "bottom", "score"]
    storage.write_csv(tmp_path / "data/people/boxes.csv", header, [])
    with pytest.raises(ValueError, match="sure of no one.*cut_out_people"):
        removal_differences(mean_colour, tmp_path, cfg, (32, 48))
    width, height = Image.open(photos[0]).size
    rows = [[str(photos[0]), width, height, 0, 0, width / 2, height / 2, 0.9],
            [str(photos[0]), width, height, width / 2, height / 2, width, height, 0.8],
            [str(held_out[0]), width, height, 0, 0, width, height, 0.9]]  # never read: no photo of training
    storage.write_csv(tmp_path / "data/people/boxes.csv", header, rows)
    differences, removed, names = removal_differences(mean_colour, tmp_path, cfg, (32, 48))
    assert names == [str(photos[0])] and removed.tolist() == [2.0]
    assert differences.shape == (1, 3) and np.abs(differences).max() > 0  # inpainting changed what it removed
