"""Counting metrics and per-benchmark evaluation from cached patch features.

MAE and "MSE" follow the crowd-counting convention: the "MSE" column of every paper in the field
is the *root* of the mean squared error, so it is computed as such here and named ``mse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.stats import spearmanr

from syrac import storage
from syrac.inference.tiling import TilingRule, tile_cached
from syrac.method.features import patch_boxes
from syrac.method.probe import LinearProbe


def true_counts(truth_dir: Path, images: list[str]) -> np.ndarray:
    """Number of annotated heads of each image (ground truth: evaluation stages only)."""
    return np.array([len(storage.read_json(truth_dir / f"{Path(name).stem}.json")["points"]) for name in images],
                    dtype=np.float64)


def true_points(truth_dir: Path, name: str) -> np.ndarray:
    """The annotated head points (x, y) of one image, N x 2."""
    return np.asarray(storage.read_json(truth_dir / f"{Path(name).stem}.json")["points"], dtype=float).reshape(-1, 2)


def heads_in(points: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Head points inside a (left, top, right, bottom) box, right and bottom edges excluded."""
    left, top, right, bottom = box
    return int(
        ((points[:, 0] >= left) & (points[:, 0] < right) & (points[:, 1] >= top) & (points[:, 1] < bottom)).sum()
    )


def patch_true_counts(truth_dir: Path, images: list[str], paths: list[Path], k: int) -> np.ndarray:
    """Annotated heads inside each cell of the KxK grid (N x K*K, row by row, as ``patch_boxes``)."""
    counts = np.zeros((len(images), k * k))
    for i, (name, path) in enumerate(zip(images, paths)):
        points = true_points(truth_dir, name)
        with Image.open(path) as image:  # the header only: the size, not the pixels
            counts[i] = [heads_in(points, box) for box in patch_boxes(*image.size, k)]
    return counts


def scores(predicted: np.ndarray, true: np.ndarray) -> dict[str, float]:
    error = predicted - true
    return {"mae": float(np.abs(error).mean()), "mse": float(np.sqrt((error**2).mean())),
            "spearman": float(spearmanr(predicted, true)[0]) if np.ptp(predicted) > 0 else 0.0}


def total_ratio(predicted: np.ndarray, true: np.ndarray) -> float:
    """Predicted over true people summed over a split: 1 for a counter whose count scale is right, about
    0.5 for one that reads each person of a dense crowd as half a person."""
    return float(predicted.sum() / true.sum()) if true.sum() > 0 else float("nan")


def zoom_ratios(probe: LinearProbe, features: dict[str, np.ndarray]) -> dict[str, float]:
    """The label-free check of count scale (``syrac.method.scale``), medians over the images the
    counter reads above zero: the 2x2 cells' counts summed over the whole image's (``zoom_in``: 1 for
    a counter that counts a person the same at every size) and its four half-size copies side by
    side over the image (``zoom_out``: 4). Reads the counter's own counts, never a label."""
    whole = probe.image_counts(features["k1"])
    read = whole > 0
    ratios = {}
    for name, key in (("zoom_in", "k2"), ("zoom_out", "mosaic")):
        if key in features and read.any():
            ratios[name] = float(np.median(probe.image_counts(features[key])[read] / whole[read]))
    return ratios


IN_RANGE_SHARE = 0.9  # "nearly all patches": the share that must lie within the probe's label range


def choose_grid(probe: LinearProbe, patches: dict[int, np.ndarray], max_label: float) -> tuple[int, dict[int, float]]:
    """The label-free K rule: the coarsest grid whose patches the probe counts within the range of
    labels it was fitted on. The counting set never shows more than ``max_label`` people, so a patch
    counted above that is an extrapolation (the paper's reason for patches), while a needlessly fine
    grid enlarges people to a scale the encoder never saw. Reads predictions, never a label.
    ``patches`` maps K to N x K*K x D features; returns K and each K's 90th-percentile patch count."""
    upper = {k: float(np.quantile(probe.patch_counts(f), IN_RANGE_SHARE)) for k, f in sorted(patches.items())}
    within = [k for k, count in upper.items() if count <= max_label]
    return (within[0] if within else max(upper)), upper


def read_grids(path: Path) -> dict[str, int]:
    """K of each benchmark, as the choose_patches stage decided it."""
    return {name: int(row["patches"]) for name, row in storage.read_json(path).items()}


def load_features(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    with np.load(path) as data:
        return [str(n) for n in data["images"]], {k: data[k] for k in data.files if k != "images"}


def evaluate_benchmark(
    probe: LinearProbe, features_path: Path, truth_dir: Path, grids
) -> tuple[list[str], np.ndarray, dict]:
    """Predicted counts per image for each K, and the true counts."""
    images, features = load_features(features_path)
    predictions = {k: probe.image_counts(features[f"k{k}"]) for k in grids}
    return images, true_counts(truth_dir, images), predictions


@dataclass(frozen=True)
class SplitReading:
    """One counter's reading of one split of a benchmark: each image at the benchmark's K and on its own tiling."""

    images: list[str]
    true: np.ndarray
    k: int
    at_k: np.ndarray
    tiled: np.ndarray
    tilings: list[str]
    finest: list[int]
    zoom: dict[str, float]

    def summary(self, grids: tuple[int, ...]) -> dict:
        """MAE, MSE, Spearman and the predicted/true total at K and on the own tiling (with how many
        images read each finest grid), and the label-free zoom ratios."""
        return {**scores(self.at_k, self.true), "total_ratio": total_ratio(self.at_k, self.true),
                "n_images": len(self.images), "patches": self.k,
                "tiling": {**scores(self.tiled, self.true), "total_ratio": total_ratio(self.tiled, self.true),
                           "finest_grid": {str(g): self.finest.count(g) for g in grids}},
                **({"zoom": self.zoom} if self.zoom else {})}


PREDICTION_COLUMNS = ["image", "true_count", "predicted_count", "tiled_count", "tiling"]


def prediction_file(plots_dir: Path, benchmark: str, split: str) -> Path:
    """Where ``evaluate`` writes one split's per-image counts: ``<benchmark>.csv`` for the test split
    (the scatter plot), ``<benchmark>_development.csv`` for the development part."""
    return plots_dir / (f"{benchmark}.csv" if split == "test" else f"{benchmark}_{split}.csv")


def write_predictions(path: Path, reading: SplitReading) -> None:
    storage.write_csv(
        path,
        PREDICTION_COLUMNS,
        [
            [i, int(t), round(float(p), 2), round(float(c), 2), d]
            for i, t, p, c, d in zip(reading.images, reading.true, reading.at_k, reading.tiled, reading.tilings)
        ],
    )


def read_split(probe: LinearProbe, features_path: Path, truth_dir: Path, k: int, rule: TilingRule) -> SplitReading:
    """Count every image of a split from its cached grid features, at K and on its own tiling
    (``syrac.inference.tiling``), beside its true count."""
    images, features = load_features(features_path)
    missing = [g for g in (k, *rule.grids) if f"k{g}" not in features]
    if missing:
        raise ValueError(
            f"{features_path}: no features of the {', '.join(f'{g}x{g}' for g in missing)} grid cached; K is "
            f"{k} and the counter's tiling reads grids {', '.join(map(str, rule.grids))}: put them in evaluate.sweep"
        )
    tiled, tilings, finest = tile_cached({g: probe.patch_counts(features[f"k{g}"]) for g in rule.grids}, rule,
                                         features.get("sizes"))
    return SplitReading(
        images,
        true_counts(truth_dir, images),
        k,
        probe.image_counts(features[f"k{k}"]),
        tiled,
        tilings,
        finest,
        zoom_ratios(probe, features),
    )


def benchmark_report(probe: LinearProbe, rule: TilingRule, k: int, test_features: Path, development_features: Path,
                     truth_dir: Path, train_truth_dir: Path, label_mean: float) -> tuple[dict, dict[str, SplitReading]]:
    """One benchmark's evaluation (stage ``evaluate``): the test split at K and on its own tiling,
    two constant answers for reference (the mean noisy label, label-free, and the training split's
    mean true count, which needs labels), and the development part of the training split. Returns
    the metrics and both splits' readings, image by image ({"test": ..., "development": ...})."""
    test = read_split(probe, test_features, truth_dir, k, rule)
    development = read_split(probe, development_features, train_truth_dir, k, rule)
    train_names = [p.name for p in sorted(train_truth_dir.glob("*.json"))]
    train_mean = float(true_counts(train_truth_dir, train_names).mean())
    constant = {
        f"{which}_baseline_{metric}": scores(np.full_like(test.true, value), test.true)[metric]
        for which, value in (("mean_label", label_mean), ("train_mean", train_mean))
        for metric in ("mae", "mse")
    }
    return {**test.summary(rule.grids), **constant, "train_mean_count": train_mean,
            "development": development.summary(rule.grids)}, {"test": test, "development": development}
