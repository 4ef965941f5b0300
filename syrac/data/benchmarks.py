"""The evaluation sets: rendered by the simulator or read from a downloaded dataset.

Either way a benchmark ends as the same two things, so every later stage treats them alike:
``images.csv`` (image name, path to open, MD5 of its bytes, so that DVC reruns downstream stages
when an image changes) beside the images, and one ``<stem>.json`` of head points per image in the
ground-truth folder that only evaluation stages read.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from pathlib import Path

import numpy as np

from syrac import storage
from syrac.config import Config, DatasetSplit, SimBenchmark
from syrac.data import datasets
from syrac.errors import BadImagesError
from syrac.storage import parallel_map, readable_images
from syrac.synthetic import sim
from syrac.synthetic.sim import BENCHMARKS

MANIFEST = "images.csv"
DEVELOPMENT_MANIFEST = "development.csv"  # beside a training split's manifest: its development part


def _md5(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def _write_manifest(image_dir: Path, images: list[Path], manifest: str = MANIFEST) -> None:
    storage.write_csv(image_dir / manifest, ["image", "path", "md5"], [[p.name, str(p), _md5(p)] for p in images])


def _write_manifests(image_dir: Path, images: list[Path], split: str, listing: list[Path]) -> None:
    """The split's manifest and, for a training split, its development part's (from the whole
    ``listing``, as training stages hold it out: ``datasets.development_part``)."""
    _write_manifest(image_dir, images)
    if split == "train":
        held = set(datasets.development_part(listing))
        _write_manifest(image_dir, [image for image in images if image in held], DEVELOPMENT_MANIFEST)


def read_manifest(image_dir: Path, manifest: str = MANIFEST) -> tuple[list[str], list[Path]]:
    """Image names and the paths to open them by, in evaluation order (``DEVELOPMENT_MANIFEST``: a
    training split's development part)."""
    rows = storage.read_csv(image_dir / manifest)
    return [r["image"] for r in rows], [Path(r["path"]) for r in rows]


def _count_stats(counts: list[int], skipped: int = 0) -> dict:
    return {"images": len(counts), "skipped_bad_images": skipped, "min": int(min(counts)),
            "mean": float(np.mean(counts)), "max": int(max(counts))}


def benchmark_count(rng: np.random.Generator, bench: SimBenchmark) -> int:
    raw = bench.count_median * math.exp(rng.normal(0, bench.count_sigma))
    return int(np.clip(round(raw), *bench.count_range))


def benchmark_scene(cfg: Config, key: str, bench: SimBenchmark, index: int) -> sim.Scene:
    """The scene of image ``index`` (``IMG_{index + 1}``) of a simulated split, decided by its seed
    alone; ``key`` names the split: "sim_sparse" (test), "sim_sparse/train"."""
    rng = sim.scene_rng(cfg.seed, BENCHMARKS, zlib.crc32(key.encode()), index)
    return sim.source_scene(rng, sim.STYLES[bench.style], benchmark_count(rng, bench), cfg.world.min_person_px)


def _render_image(job) -> tuple[Path, int]:
    cfg, key, bench, index, image_dir, truth_dir = job
    scene = benchmark_scene(cfg, key, bench, index)
    stem = f"IMG_{index + 1}"
    storage.write_image(image_dir / f"{stem}.jpg", sim.render(scene))
    storage.write_json(
        truth_dir / f"{stem}.json", {"points": [[round(x, 2), round(y, 2)] for x, y in scene.head_points()]}
    )
    return image_dir / f"{stem}.jpg", scene.count


def render_benchmark(cfg: Config, name: str, image_dir: Path, truth_dir: Path, split: str = "test") -> dict:
    """A simulated split with exact head points, from seeds disjoint from the training streams and
    from the other split."""
    bench = cfg.benchmarks[name]
    key, n = (name, bench.n_images) if split == "test" else (f"{name}/{split}", bench.train_images)
    jobs = [(cfg, key, bench, i, image_dir, truth_dir) for i in range(n)]
    images, counts = zip(*parallel_map(_render_image, jobs, f"benchmark {name} ({split})"))
    _write_manifests(image_dir, list(images), split, list(images))
    return _count_stats(list(counts))


def import_benchmark(bench: DatasetSplit, name: str, image_dir: Path, truth_dir: Path, policy: str,
                     split: str | None = None) -> dict:
    """A downloaded dataset split (``bench.split`` unless given): images stay where they are, listed
    in the manifest; points become JSON."""
    split = split or bench.split
    points = dict(datasets.samples(bench.format, bench.root, split))
    images, skipped = readable_images(list(points), policy, f"checking {name} ({split})")
    if not images:
        raise BadImagesError(f"{name}: none of the {len(points)} images in {bench.root} could be read")
    for image in images:
        storage.write_json(truth_dir / f"{image.stem}.json", {"points": points[image].round(2).tolist()})
    _write_manifests(image_dir, images, split, list(points))
    return _count_stats([len(points[image]) for image in images], skipped)
