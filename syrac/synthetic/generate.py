"""Making the training data: ranking pairs and the noisy counting set, with either backend.

Every image is a task that is a pure function of (global seed, stream, ids), so any image can be
regenerated alone and the work splits freely. Two backends answer the same two requests, "remove
people from this source" and "render a scene for prompt count N": the embedded simulator
(:class:`SimulatedBackend`, CPU processes) and Stable Diffusion (:class:`DiffusersBackend`, batched
on the GPU).

Generation is resumable and shardable. Images are written atomically into a work folder keyed by
the parameters and the code (``checkpoints/<stage>/<fingerprint>``): a killed run, started again,
keeps every finished image and makes only the missing ones. Under ``accelerate launch`` each
process takes a disjoint, deterministic share of the batches (the same batches as one process, so
the images are the same). When every image exists, the main process writes the lists and the
manifest and moves the folder into place with one rename.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from syrac import config, storage
from syrac.config import Config, DatasetSources, SimSources
from syrac.errors import stop_on_input_errors
from syrac.storage import parallel_map, readable_images
from syrac.synthetic import sim
from syrac.synthetic.counting import LABEL_COLUMNS, LABELS, compose_people, read_people
from syrac.synthetic.sim import COUNTING, EDITS, SOURCES

PHOTO_PEOPLE = 6  # the stream of the scenes of photographed people (sim's are 1 to 4, the review's 5)

TRUTH = ".truth"  # per-image true counts of simulated images, inside the work folder until the end
CODE = ("sim.py", "generate.py", "diffusion.py")  # a change here invalidates half-finished work


def image_seed(seed: int, stream: int, *ids: int) -> int:
    """The seed of one image, from the global seed, its stream and its ids (as recorded in manifests)."""
    return int(np.random.SeedSequence([seed, stream, *ids]).generate_state(1)[0])


@dataclass(frozen=True)
class Task:
    """One image to make."""

    output: str  # path inside the output folder
    ids: tuple[int, ...]  # (source_id,) | (source_id, edit_index) | (prompted_count, index)
    seed: int
    prompt: str
    start: str  # what it starts from: a dataset image, a source file in the work folder, or ""


# --------------------------------------------------------------------------------------------
# Backends


def log_uniform_count(rng: np.random.Generator, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(max(low, 1)), math.log(max(high, 1))))))


def source_scene(cfg: Config, index: int) -> sim.Scene:
    """The index-th unlabelled source image of the embedded world."""
    rng = sim.scene_rng(cfg.seed, SOURCES, index)
    style = sim.DENSE if rng.uniform() < cfg.sources.dense_fraction else sim.SPARSE
    count = log_uniform_count(rng, *cfg.sources.count_range)
    low, high = cfg.sources.person_zoom
    # close-ups and wide shots of the same number of people; a fixed zoom draws nothing (same scenes)
    zoom = math.exp(rng.uniform(math.log(low), math.log(high))) if high > low else low
    if zoom != 1.0:
        style = replace(style, person_height=tuple(zoom * h for h in style.person_height))
    return sim.source_scene(rng, style, count, cfg.world.min_person_px)


def make_sources(cfg: Config, tasks: list[Task], work_dir: Path) -> list[tuple[np.ndarray, int | None]]:
    """Source images: simulated scenes, or dataset images; resized to ``generator.edit_size`` for diffusion."""
    made = []
    for task in tasks:
        if isinstance(cfg.sources, SimSources):
            scene = source_scene(cfg, task.ids[0])
            image, count = sim.render(scene), scene.count
        else:
            image, count = np.asarray(storage.read_image(task.start)), None  # its annotation is never opened
        if cfg.generator.backend == "diffusers":
            height, width = cfg.generator.edit_size
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.BICUBIC))
        made.append((image, count))
    return made


class SimulatedBackend:
    """The embedded world: edits are made from the scene, which knows where every person is."""

    parallel = True  # pure CPU work: spread over processes
    batch_size = 1

    def __init__(self, cfg: Config):
        self.cfg = cfg

    def remove_people(self, tasks: list[Task], work_dir: Path) -> list[tuple[np.ndarray, int | None]]:
        p = self.cfg.pairs
        made = []
        for task in tasks:
            source_id, edit_index = task.ids
            edited = sim.remove_people(source_scene(self.cfg, source_id),
                                       sim.scene_rng(self.cfg.seed, EDITS, source_id, edit_index),
                                       p.strength, p.remove_prob, p.clutter_prob)
            made.append((sim.render(edited), edited.count))
        return made

    def render(self, tasks: list[Task], work_dir: Path) -> list[tuple[np.ndarray, int | None]]:
        made = []
        for task in tasks:
            prompted, index = task.ids
            scene = sim.prompted_scene(sim.scene_rng(self.cfg.seed, COUNTING, prompted, index), prompted,
                                       self.cfg.counting.count_cv, sim.STYLES[self.cfg.counting.style],
                                       self.cfg.world.min_person_px)
            made.append((sim.render(scene), scene.count))
        return made


class DiffusersBackend:
    """Stable Diffusion: batched calls on this process's device; true counts are unknown."""

    parallel = False  # one pipeline per process, on its GPU

    def __init__(self, cfg: Config, device):
        from syrac.synthetic.diffusion import DiffusionGenerator

        self.cfg = cfg
        self.batch_size = cfg.generator.batch_size
        self.pipe = DiffusionGenerator(cfg.generator, device)

    def remove_people(self, tasks: list[Task], work_dir: Path) -> list[tuple[np.ndarray, int | None]]:
        sources = [np.asarray(storage.read_image(work_dir / task.start)) for task in tasks]
        edits = self.pipe.remove_people(sources, [t.seed for t in tasks], self.cfg.pairs.strength)
        return [(edit, None) for edit in edits]

    def render(self, tasks: list[Task], work_dir: Path) -> list[tuple[np.ndarray, int | None]]:
        return [(image, None) for image in self.pipe.render([t.prompt for t in tasks], [t.seed for t in tasks])]


def load_backend(cfg: Config, state):
    return DiffusersBackend(cfg, state.device) if cfg.generator.backend == "diffusers" else SimulatedBackend(cfg)


# --------------------------------------------------------------------------------------------
# The resumable, sharded runner


def _fingerprint(cfg: Config, sections: tuple[str, ...], extra=None) -> str:
    code = b"".join((Path(__file__).parent / name).read_bytes() for name in CODE)
    blob = json.dumps({"params": [asdict(getattr(cfg, s)) if s != "seed" else cfg.seed for s in sections],
                       "extra": extra, "code": hashlib.sha256(code).hexdigest()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare_work_dir(work_root: Path, fingerprint: str, state) -> Path:
    """This run's work folder; folders of other parameters (stale work) are removed by the main process."""
    work_dir = work_root / fingerprint
    if state.is_main_process and work_root.is_dir():
        for stale in work_root.iterdir():
            if stale.name != fingerprint:
                shutil.rmtree(stale, ignore_errors=True)
    state.wait_for_everyone()
    return work_dir


def _make_batch(job) -> int:
    make, tasks, work_dir = job
    for task, (image, count) in zip(tasks, make(tasks, work_dir)):
        if count is not None:  # the truth first: an image on disk always has its count beside it
            storage.write_bytes(work_dir / TRUTH / f"{task.output}.count", str(count).encode())
        storage.write_image(work_dir / task.output, image)
    return len(tasks)


def run_tasks(tasks: list[Task], make, work_dir: Path, batch_size: int, parallel: bool, state, desc: str) -> None:
    """Make this process's share of the missing images; returns when every process is done.

    ``make(tasks, work_dir)`` returns one (image, true count or None) per task; with ``parallel``
    it runs in worker processes, so it must be picklable.

    Batches are formed over all tasks first and then dealt out, so one process or many make the
    same batches (and, batch for batch, the same images).
    """
    batches = [tasks[i:i + batch_size] for i in range(0, len(tasks), batch_size)]
    mine = [[t for t in batch if not (work_dir / t.output).exists()]
            for batch in batches[state.process_index::state.num_processes]]
    jobs = [(make, batch, work_dir) for batch in mine if batch]
    finished = sum((work_dir / t.output).exists() for t in tasks)
    if state.is_main_process and finished:
        print(f"{desc}: resuming, {finished} of {len(tasks)} images already made are kept")
    if parallel:
        parallel_map(_make_batch, jobs, desc)
    else:
        for job in tqdm(jobs, desc=desc, unit="batch", disable=not jobs):
            _make_batch(job)
    state.wait_for_everyone()


def read_truth(work_dir: Path, output: str) -> str:
    path = work_dir / TRUTH / f"{output}.count"
    return path.read_text() if path.is_file() else ""


def finish(work_dir: Path, out_dir: Path) -> None:
    """Move the completed work folder into place (one rename; the stage's output is all or nothing)."""
    shutil.rmtree(work_dir / TRUTH, ignore_errors=True)
    for leftover in work_dir.rglob(".*.part"):  # temp files of a killed run's last, unfinished write
        leftover.unlink()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work_dir, out_dir)
    if not any(work_dir.parent.iterdir()):
        work_dir.parent.rmdir()


def _manifest(cfg: Config, out_dir: Path, tasks: list[Task], negative_prompt: str) -> None:
    storage.write_csv(out_dir / "manifest.csv", ["output", "start", "seed", "prompt", "negative_prompt", "backend"],
                      [[t.output, t.start, t.seed, t.prompt, negative_prompt if t.prompt else "", cfg.generator.backend]
                       for t in tasks])


# --------------------------------------------------------------------------------------------
# The two stages


def source_tasks(
    cfg: Config, policy: str, dataset_images: Callable[[DatasetSources], list[Path]]
) -> tuple[list[Task], int]:
    """One task per source image, and how many unreadable dataset images were skipped. A dataset's
    images are listed by ``dataset_images`` (the stage passes the real-data layer's listing, less the
    development part), so that synthetic data never reads a dataset layout itself."""
    if isinstance(cfg.sources, SimSources):
        return [Task(f"sources/src_{i:05d}.jpg", (i,), image_seed(cfg.seed, SOURCES, i), "", "")
                for i in range(cfg.sources.n_images)], 0

    paths, skipped = readable_images(dataset_images(cfg.sources), policy, "checking sources")
    return [Task(f"sources/src_{i:05d}.jpg", (i,), image_seed(cfg.seed, SOURCES, i), "", str(path))
            for i, path in enumerate(paths)], skipped


def synthesize_pairs(cfg: Config, out_dir: Path, truth_dir: Path, work_root: Path, state,
                     dataset_images: Callable[[DatasetSources], list[Path]]) -> dict:
    """The sources and their removal edits; ``pairs.csv`` (paths only) for training, counts apart.

    Simulated sources have exact true counts, written to ``truth_dir`` for diagnostics only; a
    dataset's annotations are never opened and diffusion edits have no known count.
    """
    sources, skipped = source_tasks(cfg, cfg.data.bad_images, dataset_images)
    if len(sources) < 2:
        raise ValueError(f"sources: {len(sources)} readable image(s); at least 2 are needed (some are held out)")
    edits = [Task(f"edits/src_{s.ids[0]:05d}_e{e}.jpg", (s.ids[0], e), image_seed(cfg.seed, EDITS, s.ids[0], e),
                  cfg.generator.removal_prompt, s.output)
             for s in sources for e in range(cfg.pairs.edits_per_source)]
    extra = [(s.start, os.stat(s.start).st_size, os.stat(s.start).st_mtime_ns) for s in sources if s.start]
    work_dir = prepare_work_dir(work_root, _fingerprint(cfg, ("seed", "world", "sources", "pairs", "generator"), extra),
                                state)
    run_tasks(sources, partial(make_sources, cfg), work_dir, 1, True, state, "sources")  # CPU work
    backend = load_backend(cfg, state)  # after the worker processes: no fork after CUDA starts
    run_tasks(edits, backend.remove_people, work_dir, backend.batch_size, backend.parallel, state, "removal edits")
    if not state.is_main_process:
        return {}
    storage.write_csv(work_dir / "pairs.csv", ["source", "edit", "source_id", "edit_index"],
                      [[e.start, e.output, *e.ids] for e in edits])
    truth = [[e.start, e.output, read_truth(work_dir, e.start), read_truth(work_dir, e.output)] for e in edits]
    _manifest(cfg, work_dir, sources + edits, cfg.generator.removal_negative_prompt)
    finish(work_dir, out_dir)
    storage.write_csv(truth_dir / "pairs.csv", ["source", "edit", "source_count", "edit_count"], truth)
    known = [(int(s), int(e)) for _, _, s, e in truth if s and e]
    return {"pairs": len(edits), "sources": len(sources), "skipped_bad_images": skipped,
            "strictly_fewer_in_edit": sum(s > e for s, e in known) / len(known) if known else None}


def photo_people_scenes(cfg: Config, work_dir: Path, tasks: list[Task], people: list[Path]) -> list[list]:
    """``counting.photo_people`` scenes for each prompted N above 0, N cut-out people pasted onto the
    set's own empty scenes (``compose_people``), each labelled N; their rows for the labels. Made
    after the rest of the set (from its empty scenes), in seconds, so they are remade on a resume."""
    if not people:
        raise ValueError("counting.photo_people: the stage cut_out_people found no person in "
                         "pretrain.unlabelled_photos to cut out (none large and sure enough: counting.people_score, "
                         "people_min_height); declare photos there or set counting.photo_people: 0")
    empties = [work_dir / t.output for t in tasks if t.ids[0] == 0]
    backgrounds = [storage.read_image(path) for path in empties[:cfg.counting.photo_people]]  # once, for every N
    cut_outs = [storage.read_image(path) for path in tqdm(people, desc="cut-out people", unit="img")]
    rows = []
    for n in (n for n in cfg.counting.prompted_counts if n):
        for i in range(cfg.counting.photo_people):
            rng = np.random.default_rng(image_seed(cfg.seed, PHOTO_PEOPLE, n, i))
            scene = compose_people(backgrounds[i % len(backgrounds)], cut_outs, n, rng)
            output = f"images/p{n:04d}_{i:03d}.jpg"
            storage.write_image(work_dir / output, np.asarray(scene))
            rows.append([output, n, ""])
    return rows


def synthesize_counting(cfg: Config, out_dir: Path, truth_dir: Path, work_root: Path, state,
                        people_dir: Path | None = None) -> dict:
    """The noisy counting set: images labelled with the prompted count, true counts kept apart; with
    ``counting.photo_people``, scenes of the people cut out into ``people_dir`` as well."""
    g = cfg.generator
    tasks = [Task(f"images/n{n:04d}_{i:03d}.jpg", (n, i), image_seed(cfg.seed, COUNTING, n, i),
                  g.counting_prompt.replace("{n}", str(n)) if n else g.empty_prompt, "")
             for n in cfg.counting.prompted_counts for i in range(cfg.counting.images_per_count)]
    work_dir = prepare_work_dir(work_root, _fingerprint(cfg, ("seed", "world", "counting", "generator")), state)
    backend = load_backend(cfg, state)
    run_tasks(tasks, backend.render, work_dir, backend.batch_size, backend.parallel, state, "noisy counting set")
    if not state.is_main_process:
        return {}
    rows = [[t.output, t.ids[0], read_truth(work_dir, t.output)] for t in tasks]
    if cfg.counting.photo_people:
        rows += photo_people_scenes(cfg, work_dir, tasks, read_people(people_dir) if people_dir else [])
    storage.write_csv(work_dir / LABELS, LABEL_COLUMNS, [r[:2] for r in rows])
    _manifest(cfg, work_dir, tasks, g.counting_negative_prompt)
    finish(work_dir, out_dir)
    storage.write_csv(truth_dir / "counting.csv", ["image", "prompted_count", "true_count"], rows)
    rel_dev = [abs(int(t) - p) / p for _, p, t in rows if p > 0 and t]
    return {"images": len(rows), "mean_relative_label_error": float(np.mean(rel_dev)) if rel_dev else None}


def run_stage(synthesize, argv: list[str], inputs: tuple[str, ...] = ()) -> dict | None:
    """A generation stage's main: its named paths (``--out-dir``, ``--truth-dir``, ``--metrics-path``,
    ``--work-root``, and the stage's own ``inputs``, passed on by name) from argv, parameters, this
    process's place among ``accelerate launch`` processes, input errors as clear messages. The main
    process writes the metrics and returns the summary; the other processes return None."""
    from accelerate import PartialState


    args = config.stage_paths("out_dir", "truth_dir", "metrics_path", "work_root", *inputs, argv=argv)
    cfg = config.load_for_stage()
    state = PartialState()
    with stop_on_input_errors():
        summary = synthesize(cfg, args.out_dir, args.truth_dir, args.work_root, state,
                             **{name: getattr(args, name) for name in inputs})
    if not state.is_main_process:
        return None
    storage.write_json(args.metrics_path, summary)
    return summary
