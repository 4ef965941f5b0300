"""The counting set's scenes of photographed people: people cut out of photos, pasted N to a scene."""

import numpy as np
import pytest
import yaml
from PIL import Image

from syrac import config, storage
from syrac.data.boxes import PHOTO_BOXES, photo_boxes
from syrac.data.people import cut_out_people, one_person
from syrac.synthetic import generate
from syrac.synthetic.counting import compose_people, read_labels, read_people


class Everywhere:
    """A stand-in detector: the same boxes and scores in every photo."""

    def __init__(self, boxes, scores):
        self.boxes, self.scores = np.array(boxes, dtype=float).reshape(-1, 4), np.array(scores, dtype=float)

    def __call__(self, bgr):
        assert bgr.ndim == 3 and bgr.shape[2] == 3
        return self.boxes, self.scores


def _photos(folder, n, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i}.jpg" for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path)
    return paths


def test_a_box_is_cut_out_only_when_sure_large_and_shaped_like_one_standing_person():
    assert one_person((0, 0, 20, 60), 0.9, 0.6, 48)
    assert not one_person((0, 0, 20, 60), 0.5, 0.6, 48)  # unsure
    assert not one_person((0, 0, 10, 30), 0.9, 0.6, 48)  # too small to show a person
    assert not one_person((0, 0, 60, 60), 0.9, 0.6, 48)  # as wide as tall: a group
    assert not one_person((0, 0, 10, 60), 0.9, 0.6, 48)  # six times as tall as wide: a pole


def test_cut_out_people_writes_each_kept_box_and_its_provenance(tmp_path):
    photos = _photos(tmp_path / "photos", 2)
    detector = Everywhere([(10, 5, 30, 65), (50, 0, 110, 60), (100.5, 40.2, 120.7, 100.9)], [0.9, 0.95, 0.7])
    summary = cut_out_people(photos, detector, 0.6, 48, tmp_path / "people")
    assert summary == {"photos": 2, "people": 4, "boxes": 6}  # the square box is a group, in both photos
    rows = storage.read_csv(tmp_path / "people" / "people.csv")
    assert [r["photo"] for r in rows] == [str(photos[0])] * 2 + [str(photos[1])] * 2
    assert [(r["left"], r["top"], r["right"], r["bottom"]) for r in rows[:2]] == [("10", "5", "30", "65"),
                                                                                  ("100", "40", "121", "101")]
    people = read_people(tmp_path / "people")
    assert [Image.open(p).size for p in people] == [(20, 60), (21, 61)] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people", "photos"]  # no half-written pool left


def test_every_sure_box_is_recorded_and_read_back_in_the_resized_photos_pixels(tmp_path):
    """boxes.csv holds every box at the score, the group's too (a removal edit takes it, a cut-out does
    not); ``photo_boxes`` scales them to the size rank pre-training holds each photo at, in order."""
    photos = _photos(tmp_path / "photos", 2)  # 160 x 120
    detector = Everywhere([(10, 5, 30, 65), (50, 0, 110, 60), (0, 0, 8, 8)], [0.9, 0.95, 0.5])
    cut_out_people(photos, detector, 0.6, 48, tmp_path / "people")
    rows = storage.read_csv(tmp_path / "people" / PHOTO_BOXES)
    assert [(r["photo"], r["width"], r["height"], r["left"], r["score"]) for r in rows[:2]] == [
        (str(photos[0]), "160", "120", "10.0", "0.9"), (str(photos[0]), "160", "120", "50.0", "0.95")]
    assert len(rows) == 4  # the unsure box in neither photo
    other = tmp_path / "elsewhere.jpg"
    boxes = photo_boxes(tmp_path / "people", [photos[1], other, photos[0]], (60, 40))  # half as high, a quarter as wide
    np.testing.assert_allclose(boxes[0], [[2.5, 2.5, 7.5, 32.5], [12.5, 0, 27.5, 30]])
    assert boxes[1].shape == (0, 4)  # a photo the detector found nobody in
    np.testing.assert_allclose(boxes[2], boxes[0])


def test_no_photos_give_an_empty_pool(tmp_path):
    assert cut_out_people([], None, 0.6, 48, tmp_path / "people") == {"photos": 0, "people": 0, "boxes": 0}
    assert read_people(tmp_path / "people") == []


def test_a_scene_pastes_n_people_reproducibly_onto_the_empty_scene():
    background = Image.new("RGB", (96, 96), (40, 90, 40))
    person = Image.new("RGB", (10, 30), (250, 20, 20))
    scenes = [np.asarray(compose_people(background, [person], n, np.random.default_rng(7))) for n in (0, 5, 5)]
    assert scenes[0].shape == (96, 96, 3) and (scenes[0] == (40, 90, 40)).all()  # nobody pasted
    assert (scenes[1] == scenes[2]).all()  # the same draws, the same scene
    red = (scenes[1][:, :, 0] > 150) & (scenes[1][:, :, 1] < 60)
    assert red.sum() > 5 * 20  # five people of about 10x20 pixels each, some overlapping
    assert (np.asarray(background) == (40, 90, 40)).all()  # one background serves every N: never drawn on


def _params(tmp_path, **counting):
    data = yaml.safe_load(open("params.yaml"))
    data["counting"].update(prompted_counts=[0, 2, 6], images_per_count=2, **counting)
    data["pretrain"]["unlabelled_photos"] = [{"format": "shanghaitech", "root": str(tmp_path), "split": "train"}]
    return data


def test_the_counting_set_gains_photo_people_scenes_labelled_with_their_n(tmp_path):
    from accelerate import PartialState

    cfg = config.from_dict(_params(tmp_path, photo_people=3))
    photos = _photos(tmp_path / "photos", 1)
    cut_out_people(photos, Everywhere([(0, 0, 20, 60)], [0.9]), 0.6, 48, tmp_path / "people")
    summary = generate.synthesize_counting(cfg, tmp_path / "counting", tmp_path / "truth", tmp_path / "work",
                                           PartialState(), tmp_path / "people")
    names, prompted = read_labels(tmp_path / "counting" / "labels.csv")
    scenes = [(name, n) for name, n in zip(names, prompted) if name.startswith("images/p")]
    assert scenes == [(f"images/p{n:04d}_{i:03d}.jpg", n) for n in (2, 6) for i in range(3)]
    assert summary["images"] == 6 + 6 and all((tmp_path / "counting" / name).is_file() for name in names)
    truth = {r["image"]: r["true_count"] for r in storage.read_csv(tmp_path / "truth" / "counting.csv")}
    assert truth["images/p0002_000.jpg"] == ""  # a cut-out may hold a neighbour too: no exact count is claimed

    storage.write_csv(tmp_path / "people" / "people.csv", ["image"], [])
    with pytest.raises(ValueError, match="cut_out_people found no person"):
        generate.synthesize_counting(cfg, tmp_path / "again", tmp_path / "truth2", tmp_path / "work2", PartialState(),
                                     tmp_path / "people")
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize("change, message", [
    ({"counting": {"prompted_counts": [1, 5]}}, "counting.photo_people = 2 is not allowed: 0 unless counting.prompted"),
    ({"pretrain": {"unlabelled_photos": []}}, "counting.photo_people = 2 is not allowed: 0 unless pretrain.unlabelled"),
])
def test_photo_people_need_empty_scenes_and_photos(tmp_path, change, message):
    data = _params(tmp_path, photo_people=2)
    for section, values in change.items():
        data[section].update(values)
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict(data)
