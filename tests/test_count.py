"""`syrac count` at the edges a user reaches: files that are not counters, images unlike any training image."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from syrac.config import Model
from syrac.inference.tiling import TilingRule
from syrac.method.counter import save_counter
from syrac.method.envelope import Envelope, fit_envelope
from syrac.method.model import load_rank_model, new_model, save_rank_model
from syrac.method.probe import LinearProbe
from syrac.tools import cli


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A rank checkpoint and the counter made from it, with a small untrained backbone."""
    root = tmp_path_factory.mktemp("models")
    model = new_model(Model("mobilenet_v3_small", "none", (32, 48), "fp32"))
    save_rank_model(root / "rank.pt", model, "mobilenet_v3_small", (32, 48), {})
    rank = torch.load(root / "rank.pt", weights_only=True)
    save_counter(
        root / "counter.pt", {**rank, "tiling": TILING}, LinearProbe(np.full(model.feature_dim, 0.01, np.float32), 1.0)
    )
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
    expected = (
        "not a counter; pass the probe stage's models/syrac.pt"
        if kind == "rank checkpoint"
        else "not a syrac model file"
    )
    assert expected in err


def test_a_counter_file_counts_and_a_rank_checkpoint_still_loads_for_the_stages(tmp_path, capsys, model_files):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (90, 120, 80)).save(photo)
    assert cli.main(["count", str(photo), "--model", str(model_files / "counter.pt"), "--patches", "1"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header == "# counted by a counter file without provenance (made before counters recorded theirs)"
    assert row.startswith(f"{photo}\t")
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
    ramp = (
        np.repeat(np.linspace(0, 255, photo.shape[1])[None, :, None], photo.shape[0], 0).repeat(3, 2).astype(np.uint8)
    )
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
    assert (
        cli.main(["count", str(tmp_path / "blank.png"), "--model", str(tmp_path / "counter.pt"), "--format", "json"])
        == 0
    )
    out, err = capsys.readouterr()
    [row] = json.loads(out)
    assert row["in_range"] is False and row["reason"].startswith("grey-level entropy 0.00 bits")
    assert "1 out of range" in err
    assert (
        cli.main(["count", str(tmp_path / "blank.png"), "--model", str(model_files / "counter.pt"), "--format", "csv"])
        == 0
    )
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .endswith(
            ",,the counter file has no training envelope; rerun `dvc repro`,"
            "a counter file without provenance (made before counters "
            "recorded theirs)"
        )
    )


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


def test_a_counter_with_a_smallest_cell_stops_each_image_where_its_cells_would_be_too_small(
    tmp_path, capsys, model_files
):
    """The input is 32x48: with a smallest cell of 16x24 (half of it) every region splits (the ceiling is
    0.5) down to 4x4 in a 64x96 image (cells of 16x24), and only to 2x2 in a 48x64 one (its 4x4 cells
    would be 12x16)."""
    rank = torch.load(model_files / "rank.pt", weights_only=True)
    rule = TilingRule(ceiling=0.5, finest=4, smallest_cell=(16, 24))
    save_counter(tmp_path / "counter.pt", {**rank, "tiling": rule.to_bundle()},
                 LinearProbe(np.full(rank["feature_dim"], 0.01, np.float32), 1.0))
    Image.new("RGB", (96, 64), (90, 120, 80)).save(tmp_path / "large.png")
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "small.png")
    assert cli.main(["count", str(tmp_path / "large.png"), str(tmp_path / "small.png"), "--model",
                     str(tmp_path / "counter.pt"), "--format", "json"]) == 0
    large, small = json.loads(capsys.readouterr().out)
    assert {t["grid"] for t in large["tiles"]} == {4} and len(large["tiles"]) == 16
    assert small["tiling"] == "2" and len(small["tiles"]) == 4


def test_a_counter_file_without_a_tiling_rule_counts_a_fixed_grid_and_says_what_auto_needs(
    tmp_path, capsys, model_files
):
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "photo.png")
    assert cli.main(["count", str(tmp_path / "photo.png"), "--model", str(model_files / "untiled.pt")]) == 2
    assert "no tiling rule" in capsys.readouterr().err
    assert (
        cli.main(["count", str(tmp_path / "photo.png"), "--model", str(model_files / "untiled.pt"), "--patches", "2"])
        == 0
    )


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "auto"])
def test_count_refuses_a_grid_that_is_neither_tiling_nor_a_positive_k(tmp_path, capsys, model_files, value):
    with pytest.raises(SystemExit) as stop:
        cli.main(["count", str(tmp_path), "--model", str(model_files / "counter.pt"), "--patches", value])
    assert stop.value.code == 2 and "tiling or a grid K >= 1" in capsys.readouterr().err


def _clip(path, frames, fps=10, size=(64, 48), codec="mp4v"):
    """A clip whose frame i is a grey of 6 * i, written with OpenCV (the peers extra)."""
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 6 * i, np.uint8))
    writer.release()
    return path


def test_a_video_counts_as_a_time_series_every_n_seconds_or_frames(tmp_path, capsys, model_files):
    clip = _clip(tmp_path / "clip.mp4", 25)
    model = str(model_files / "counter.pt")
    assert cli.main(["count", str(clip), "--model", model, "--format", "json", "--out", str(tmp_path / "out")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["frame"], r["time_s"]) for r in rows] == [(0, 0.0), (10, 1.0), (20, 2.0)]  # 1s by default
    assert all(r["image"] == str(clip) and r["counter"] for r in rows)
    assert Image.open(tmp_path / "out/clip_counts.png").size[0] > 0
    assert not (tmp_path / "out/clip_count.png").exists()  # a series gets its plot, not an overlay a frame
    assert cli.main(["count", str(clip), "--model", model, "--every", "8", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "image,frame,time_s,count,in_range,reason,counter"
    assert [line.split(",")[1:3] for line in lines[1:]] == [["0", "0.0"], ["8", "0.8"], ["16", "1.6"], ["24", "2.4"]]


def test_a_truncated_or_unreadable_video_costs_only_its_own_frames(tmp_path, capsys, model_files):
    clip = _clip(tmp_path / "long.avi", 40, codec="MJPG")
    whole = clip.read_bytes()
    clip.write_bytes(whole[: len(whole) // 2])  # the header still claims 40 frames
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (90, 120, 80)).save(photo)
    code = cli.main(["count", str(clip), str(tmp_path / "noise.mp4"), str(photo), "--model",
                     str(model_files / "counter.pt"), "--every", "5", "--format", "json"])
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert code == 1 and "noise.mp4: not a readable video" in err and "Traceback" not in err
    frames = [r["frame"] for r in rows if r["image"] == str(clip)]
    assert frames and frames == list(range(0, 5 * len(frames), 5)) and frames[-1] < 20
    assert "the stream ended at frame" in err and "of the 40 its header claims" in err
    assert rows[-1]["image"] == str(photo) and rows[-1]["frame"] is None


def test_a_folder_of_frames_counts_every_nth_and_seconds_need_a_frame_rate(tmp_path, capsys, model_files):
    for i in range(7):
        Image.new("RGB", (64, 48), (10 * i, 90, 80)).save(tmp_path / f"f{i}.png")
    model = str(model_files / "counter.pt")
    assert cli.main(["count", str(tmp_path), "--model", model, "--every", "3", "--format", "json"]) == 0
    assert [(Path(r["image"]).name, r["frame"]) for r in json.loads(capsys.readouterr().out)] == \
        [("f0.png", 0), ("f3.png", 1), ("f6.png", 2)]
    assert cli.main(["count", str(tmp_path), "--model", model, "--every", "2s"]) == 2
    assert "frame rate is unknown" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["count", str(tmp_path), "--model", model, "--every", "1.5"])  # frames are whole
    assert "--every: N frames" in capsys.readouterr().err


def test_a_decompression_bomb_is_skipped_in_one_line_and_the_table_stays_valid(tmp_path, capsys, model_files,
                                                                                monkeypatch):
    from syrac import storage

    monkeypatch.setattr(storage, "MAX_DECODE_PIXELS", 100 * 100)  # the budget, scaled down to a test's size
    Image.new("L", (400, 300)).save(tmp_path / "bomb.png")
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "good.png")
    code = cli.main(["count", str(tmp_path), "--model", str(model_files / "counter.pt"), "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 1 and err.count("skipped: ") == 1 and "bomb.png: too large to decode (400 x 300 pixels" in err
    [header, row] = out.splitlines()
    assert row.startswith(str(tmp_path / "good.png"))


def test_a_counter_names_itself_and_one_trained_on_renders_alone_flags_every_photo(tmp_path, capsys, model_files):
    rank = torch.load(model_files / "rank.pt", weights_only=True)
    renders_only = {
        "name": "models/syrac.pt",
        "synthetic": "renders of the embedded crowd simulator",
        "photographs": [],
        "backbone": "mobilenet_v3_small",
        "input_size": [32, 48],
        "probe": "ridge, prompted labels",
        "seed": 0,
    }
    for name, provenance in (("renders.pt", renders_only),
                             ("photos.pt", {**renders_only, "photographs": ["shanghaitech part_B (train split)"]})):
        save_counter(tmp_path / name, {**rank, "tiling": TILING, "provenance": provenance},
                     LinearProbe(np.full(rank["feature_dim"], 0.01, np.float32), 1.0))
    Image.new("RGB", (64, 48), (90, 120, 80)).save(tmp_path / "photo.png")
    assert (
        cli.main(["count", str(tmp_path / "photo.png"), "--model", str(tmp_path / "renders.pt"), "--format", "json"])
        == 0
    )
    [row] = json.loads(capsys.readouterr().out)
    assert row["in_range"] is False and "never a photograph" in row["reason"]
    assert row["counter"] == "models/syrac.pt (mobilenet_v3_small, seed 0): trained on renders of the embedded crowd " \
                             "simulator only"
    assert cli.main(["count", str(tmp_path / "photo.png"), "--model", str(tmp_path / "photos.pt")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# counted by models/syrac.pt (mobilenet_v3_small, seed 0): trained on renders of the "
                          "embedded crowd simulator and unlabelled photographs")
    assert "never a photograph" not in out and err.rstrip().endswith("and unlabelled photographs")
