"""Making the training data of the embedded world: ranking pairs and the noisy counting set.

Each image is a pure function of (global seed, stream, index), so the work is split across CPU
processes freely and any single image can be regenerated alone. Ground truth goes to its own
folder, which only evaluation stages declare as a dependency.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from syrac import sim, storage
from syrac.config import Config

# Independent random streams: changing one dataset's size never changes another's images.
SOURCES, EDITS, COUNTING, BENCHMARKS = 1, 2, 3, 4


def parallel_map(function, items: list, desc: str) -> list:
    """Map over items in worker processes, in order, with a progress bar."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [function(item) for item in tqdm(items, desc=desc, unit="img")]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(function, items, chunksize=4), total=len(items), desc=desc, unit="img"))


def log_uniform_count(rng: np.random.Generator, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(max(low, 1)), math.log(max(high, 1))))))


def source_scene(cfg: Config, index: int) -> sim.Scene:
    """The index-th unlabelled source image of the embedded world."""
    rng = sim.scene_rng(cfg.seed, SOURCES, index)
    style = sim.DENSE if rng.uniform() < cfg.sources.dense_fraction else sim.SPARSE
    count = log_uniform_count(rng, *cfg.sources.count_range)
    return sim.source_scene(rng, style, count, cfg.world.min_person_px)


def _make_source_and_edits(job) -> list[dict]:
    cfg, index, out_dir = job
    scene = source_scene(cfg, index)
    source = f"sources/src_{index:05d}.jpg"
    storage.write_image(out_dir / source, sim.render(scene))
    records = []
    for edit_index in range(cfg.pairs.edits_per_source):
        p = cfg.pairs
        edited = sim.remove_people(scene, sim.scene_rng(cfg.seed, EDITS, index, edit_index),
                                   p.strength, p.remove_prob, p.clutter_prob)
        edit = f"edits/src_{index:05d}_e{edit_index}.jpg"
        storage.write_image(out_dir / edit, sim.render(edited))
        records.append({"source": source, "edit": edit, "source_id": index, "edit_index": edit_index,
                        "source_count": scene.count, "edit_count": edited.count})
    return records


def synthesize_pairs(cfg: Config, out_dir: Path, truth_dir: Path) -> dict:
    """Render the unlabelled sources and their removal edits; write the pair list and the truth.

    ``pairs.csv`` (what training reads) holds image paths only; the true counts of every source and
    edit go to ``truth_dir`` for diagnostics, never to a training stage.
    """
    jobs = [(cfg, i, out_dir) for i in range(cfg.sources.n_images)]
    records = [r for rs in parallel_map(_make_source_and_edits, jobs, "ranking pairs") for r in rs]
    storage.write_csv(out_dir / "pairs.csv", ["source", "edit", "source_id", "edit_index"],
                      [[r["source"], r["edit"], r["source_id"], r["edit_index"]] for r in records])
    storage.write_csv(truth_dir / "pairs.csv", ["source", "edit", "source_count", "edit_count"],
                      [[r["source"], r["edit"], r["source_count"], r["edit_count"]] for r in records])
    strictly = sum(r["source_count"] > r["edit_count"] for r in records)
    return {"pairs": len(records), "sources": cfg.sources.n_images,
            "strictly_fewer_in_edit": strictly / len(records)}


def _make_prompted(job) -> tuple[str, int, int]:
    cfg, prompted, index, out_dir = job
    scene = sim.prompted_scene(sim.scene_rng(cfg.seed, COUNTING, prompted, index), prompted,
                               cfg.counting.count_cv, min_person_px=cfg.world.min_person_px)
    name = f"images/n{prompted:04d}_{index:03d}.jpg"
    storage.write_image(out_dir / name, sim.render(scene))
    return name, prompted, scene.count


def synthesize_counting(cfg: Config, out_dir: Path, truth_dir: Path) -> dict:
    """The noisy counting set: images labelled with the prompted count, true counts kept apart."""
    jobs = [(cfg, n, i, out_dir) for n in cfg.counting.prompted_counts for i in range(cfg.counting.images_per_count)]
    rows = parallel_map(_make_prompted, jobs, "noisy counting set")
    storage.write_csv(out_dir / "labels.csv", ["image", "prompted_count"], [r[:2] for r in rows])
    storage.write_csv(truth_dir / "counting.csv", ["image", "prompted_count", "true_count"], rows)
    labelled = [(p, t) for _, p, t in rows if p > 0]
    rel_dev = [abs(t - p) / p for p, t in labelled]
    return {"images": len(rows), "mean_relative_label_error": float(np.mean(rel_dev)) if rel_dev else 0.0}
