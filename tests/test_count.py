"""`syrac count` at the edges a user reaches: files that are not counters, images unlike any training image."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from syrac import cli
from syrac.config import Model
from syrac.inference.tiling import TilingRule
from syrac.method.envelope import Envelope, fit_envelope
from syrac.method.model import load_rank_model, new_model, save_counter, save_rank_model
from syrac.method.probe import LinearProbe


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A rank checkpoint and the counter made from it, with a small untrained backbone."""
    root = tmp_path_factory.mktemp("models")
    model = new_model(Model("mobilenet_v3_small", "none", (32, 48), "fp32"))
    save_rank_model(root / "rank.pt", model, "mobilenet_v3_small", (32, 48), {})
    rank = torch.load(root / "rank.pt", weights_only=True)
    save_counter(root / "counter.pt", {**rank, "tiling": TILING}, LinearProbe(np.full(model.feature_dim, 0.01, np.float32), 1.0))
    save_counter(root / "untiled.pt", rank, LinearProbe(np.full(model.feature_dim, 0.01, np.float32), 1.0))
    return root


TILING = TilingRule(ceiling=0.5, finest=2).to_bundle()  # the untrained probe counts about 1 a patch: every image splits


def _not_a_counter(tmp_path, model_files, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "image":
        Image.new("RGB", (8, 8)).save(path, format="PNG")
    elif kind == "rank checkpoint":
        path = model_files / "rank.pt"
    elif kind == "truncated counter":
        path.write_bytes((model_files / "counter.pt").read_bytes()[:5000])
    elif kind == "another project's weights":
        torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    elif kind == "syrac keys, other weights":
        rank = torch.load(model_files / "rank.pt", weights_only=True)
        torch.save({**rank, "state_dict": torch.nn.Linear(4, 2).state_dict()}, path)
    return path


@pytest.mark.parametrize("kind", ["image", "rank checkpoint", "truncated counter", "another project's weights",
                                  "syrac keys, other weights"])
def test_count_with_a_file_that_is_not_a_counter_says_so_in_one_line(tmp_path, capsys, model_files, kind):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (90, 120, 80)).save(photo)
    path = _not_a_counter(tmp_path, model_files, kind)
    assert cli.main(["count", str(photo), "--model", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {path}: ") and "Traceback" not in err
    expected = "not a counter; pass the probe stage's models/syrac.pt" if kind == "rank checkpoint" else "not a syrac model file"
    assert expected in err


def test_a_counter_file_counts_and_a_rank_checkpoint_still_loads_for_the_stages(tmp_path, capsys, model_files):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (90, 120, 80)).save(photo)
    assert cli.main(["count", str(photo), "--model", str(model_files / "counter.pt"), "--patches", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"{photo}\t")
    model, checkpoint = load_rank_model(model_files / "rank.pt")
    assert checkpoint["backbone"] == "mobilenet_v3_small" and model.feature_dim == checkpoint["feature_dim"]


def _textured(rng, n, size=(48, 64)):
    """Photo-like training images: smooth shading plus fine grain, every grey level range different."""
    y, x = np.mgrid[0:size[0], 0:size[1]]
    images = []
    for _ in range(n):
        base = 60 + 120 * rng.uniform() * np.sin(x / rng.uniform(3, 12) + rng.uniform(0, 6)) ** 2
        grain = rng.normal(0, rng.uniform(8, 25), size)
        grey = np.clip(base + 40 * y / size[0] + grain, 0, 255)
        images.append(np.repeat(grey[..., None], 3, -1).astype(np.uint8))
    return np.stack(images)


@pytest.fixture(scope="module")
def envelope():
    rng = np.random.default_rng(0)
    features = np.abs(rng.normal(0, 1, (400, 16)))  # ReLU-like training features
    return fit_envelope(features, _textured(rng, 400), seed=0)


def test_the_envelope_passes_training_like_images_and_says_why_it_flags_the_rest(envelope):
    rng = np.random.default_rng(1)
    photo, features = _textured(rng, 1)[0], np.abs(rng.normal(0, 1, (4, 16)))
    assert envelope.reason_out_of_range(photo, features) is None
    blank = np.full_like(photo, 128)
    assert "grey-level entropy 0.00 bits" in envelope.reason_out_of_range(blank, features)
    stripes = np.zeros_like(photo)
    stripes[:, ::4] = 255
    assert "grey-level entropy 0.81 bits" in envelope.reason_out_of_range(stripes, features)
    ramp = np.repeat(np.linspace(0, 255, photo.shape[1])[None, :, None], photo.shape[0], 0).repeat(3, 2).astype(np.uint8)
    assert envelope.reason_out_of_range(ramp, features).startswith("texture ")  # every level, no grain
    far = features.copy()
    far[:3] += 50  # most patches unlike training: the median patch decides
    assert envelope.reason_out_of_range(photo, far).startswith("features ")
    one_odd = features.copy()
    one_odd[0] += 50
    assert envelope.reason_out_of_range(photo, one_odd) is None  # a single odd patch (sky) condemns nothing


def test_the_envelope_limit_is_the_farthest_held_out_training_image(envelope):
    rng = np.random.default_rng(0)
    features = np.abs(rng.normal(0, 1, (400, 16)))
    held = np.random.default_rng(0).permutation(400)[:80]
    assert envelope.max_distance == pytest.approx(envelope.distances(features[held]).max())
    assert (envelope.distances(features[held]) <= envelope.max_distance).all()


def test_the_envelope_travels_in_the_counter_file_and_count_reports_it(tmp_path, capsys, model_files, envelope):
    rank = torch.load(model_files / "rank.pt", weights_only=True)
    model = load_rank_model(model_files / "rank.pt")[0]
    wide = fit_envelope(np.abs(np.random.default_rng(0).normal(0, 1, (400, model.feature_dim))),
                        _textured(np.random.default_rng(0), 400), seed=0)
    save_counter(tmp_path / "counter.pt", {**rank, "envelope": wide.to_bundle(), "tiling": TILING},
                 LinearProbe(np.full(model.feature_dim, 0.01, np.float32), 1.0))
    assert Envelope.from_bundle(torch.load(tmp_path / "counter.pt", weights_only=True)["envelope"]).max_distance == \
        wide.max_distance
    Image.new("RGB", (64, 48), (128, 128, 128)).save(tmp_path / "blank.png")
    assert cli.main(["count", str(tmp_path / "blank.png"), "--model", str(tmp_path / "counter.pt"), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    [row] = json.loads(out)
    assert row["in_range"] is False and row["reason"].startswith("grey-level entropy 0.00 bits")
    assert "1 out of range" in err
    assert cli.main(["count", str(tmp_path / "blank.png"), "--model", str(model_files / "counter.pt"), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(",,the counter file has no training envelope; rerun `dvc repro`")


def test_count_reads_each_image_on_its_own_tiling_by_default_and_a_fixed_grid_on_request(tmp_path, capsys, model_files):
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "photo.png")
    runs = []
    for patches in ([], [], ["--patches", "3"]):
        assert cli.main(["count", str(tmp_path / "photo.png"), "--model", str(model_files / "counter.pt"),
                         "--format", "json", "--out", str(tmp_path / "overlays"), *patches]) == 0
        runs.append(json.loads(capsys.readouterr().out)[0])
    auto, again, fixed = runs
    assert auto == again  # the same photo, the same tiling and counts
    assert auto["tiling"] == "2" and [t["cell"] for t in auto["tiles"]] == [0, 1, 2, 3]
    assert [t["box"] for t in auto["tiles"]] == [[0, 0, 32, 24], [32, 0, 64, 24], [0, 24, 32, 48], [32, 24, 64, 48]]
    assert auto["count"] == pytest.approx(sum(t["count"] for t in auto["tiles"]), abs=0.02)
    assert fixed["tiling"] == "3" and len(fixed["tiles"]) == 9 and {t["grid"] for t in fixed["tiles"]} == {3}
    assert Image.open(tmp_path / "overlays/photo_count.png").size == (64, 48)


def test_a_counter_file_without_a_tiling_rule_counts_a_fixed_grid_and_says_what_auto_needs(tmp_path, capsys, model_files):
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "photo.png")
    assert cli.main(["count", str(tmp_path / "photo.png"), "--model", str(model_files / "untiled.pt")]) == 2
    assert "no tiling rule" in capsys.readouterr().err
    assert cli.main(["count", str(tmp_path / "photo.png"), "--model", str(model_files / "untiled.pt"), "--patches", "2"]) == 0


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "auto"])
def test_count_refuses_a_grid_that_is_neither_tiling_nor_a_positive_k(tmp_path, capsys, model_files, value):
    with pytest.raises(SystemExit) as stop:
        cli.main(["count", str(tmp_path), "--model", str(model_files / "counter.pt"), "--patches", value])
    assert stop.value.code == 2 and "tiling or a grid K >= 1" in capsys.readouterr().err
