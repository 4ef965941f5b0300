"""Typed, validated view of params.yaml.

Every stage calls :func:`load` first, so a bad value stops the run before any output is touched.
Validation goes on past the first problem: the error lists every bad key with its value and what
is allowed, so a researcher fixes params.yaml in one pass.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """Parameters are missing, unknown, mistyped or out of range; ``problems`` lists each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


_problems: list[str] = []  # filled while from_dict runs; one entry per bad key
_INVALID = object()  # a value that could not be converted: its parent is not built or validated


def _require(ok: bool, key: str, value, allowed: str) -> bool:
    if not ok:
        _problems.append(f"params.yaml: {key} = {value!r} is not allowed: {allowed}")
    return ok


def _range(key: str, pair: tuple, lo: float, hi: float, what: str) -> None:
    _require(len(pair) == 2 and lo <= pair[0] <= pair[1] <= hi, key, list(pair), f"[low, high] with {what}")


# Upper limits: far beyond any run these machines (or a GPU cluster) make, they turn a typo such as a
# few extra zeros into a refusal up front instead of a run that never ends or fills the disk.
MAX_IMAGES = 10**6  # images of one set
MAX_COUNT = 10**5  # people in one image (UCF-QNRF's largest has 12,865)
MAX_EPOCHS = 10**4
MAX_BATCH = 4096
MAX_SIDE = 8192  # pixels of a network input or a generated image


def _within(key: str, value, lo: float, hi: float, note: str = "") -> bool:
    """``lo <= value <= hi`` (NaN fails it), or a problem naming the key and both limits."""
    return _require(lo <= value <= hi, key, value, f"in [{lo}, {hi}]{note}")


_recording: tuple[Path, set[str]] | None = None  # while SYRAC_PARAMS_READ records: its file and the keys noted


class Section:
    """Base of every params section. While a stage records its reads (``SYRAC_PARAMS_READ``: a test
    checks them against the stage's params in dvc.yaml), each field it reads is noted by its key;
    a section read whole is noted by the keys read from it."""

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if _recording is not None and name in type(self).__dataclass_fields__ and not dataclasses.is_dataclass(value):
            prefix = object.__getattribute__(self, "__dict__").get("_key")  # a replace()d copy has none
            if prefix is not None:
                _note_read(f"{prefix}.{name}" if prefix else name)
        return value


@dataclass(frozen=True)
class World(Section):
    min_person_px: float = 3.0

    def validate(self, key: str) -> None:
        _within(f"{key}.min_person_px", self.min_person_px, 1, 256)


@dataclass(frozen=True)
class SimSources(Section):
    """Unlabelled source scenes rendered by the simulator."""

    format: str
    n_images: int
    dense_fraction: float
    count_range: tuple[int, int]
    person_zoom: tuple[float, float] = (1.0, 1.0)  # people's size, a factor of the style's (log-uniform)

    def validate(self, key: str) -> None:
        _within(f"{key}.n_images", self.n_images, 2, MAX_IMAGES, " (some are held out)")
        _range(f"{key}.person_zoom", self.person_zoom, 0.1, 10, "0.1 <= low <= high <= 10")
        _require(0 <= self.dense_fraction <= 1, f"{key}.dense_fraction", self.dense_fraction, "in [0, 1]")
        _range(f"{key}.count_range", self.count_range, 0, MAX_COUNT, f"0 <= low <= high <= {MAX_COUNT}")


@dataclass(frozen=True)
class Pairs(Section):
    edits_per_source: int
    strength: float
    remove_prob: tuple[float, float]
    clutter_prob: float

    def validate(self, key: str) -> None:
        _within(f"{key}.edits_per_source", self.edits_per_source, 1, 100)
        _require(0 < self.strength <= 1, f"{key}.strength", self.strength, "0 < strength <= 1")
        _range(f"{key}.remove_prob", self.remove_prob, 0, 1, "0 <= low <= high <= 1")
        _require(0 <= self.clutter_prob <= 1, f"{key}.clutter_prob", self.clutter_prob, "in [0, 1]")


COUNTING_STYLES = ("aerial", "sparse", "dense")  # the simulator's views (sim.STYLES; a test holds them equal)


@dataclass(frozen=True)
class Counting(Section):
    prompted_counts: tuple[int, ...]
    images_per_count: int
    count_cv: float
    style: str = "aerial"  # the simulator's view of the counting set (syrac.synthetic.sim.STYLES)
    photo_people: int = 0  # scenes of cut-out photographed people per prompted N above 0 (syrac.data.people)
    people_score: float = 0.6  # the detector's score from which a box is cut out
    people_min_height: int = 48  # and its height in the photo's pixels

    def validate(self, key: str) -> None:
        _require(self.style in COUNTING_STYLES, f"{key}.style", self.style, " | ".join(COUNTING_STYLES))
        _within(f"{key}.photo_people", self.photo_people, 0, MAX_IMAGES)
        _require(not self.photo_people or 0 in self.prompted_counts, f"{key}.photo_people", self.photo_people,
                 f"0 unless {key}.prompted_counts holds 0: the people are pasted onto the set's empty scenes")
        _require(0 < self.people_score <= 1, f"{key}.people_score", self.people_score, "in (0, 1]")
        _within(f"{key}.people_min_height", self.people_min_height, 8, 10_000, " pixels")
        counts = self.prompted_counts
        _require(len(counts) >= 2 and len(set(counts)) == len(counts) and all(0 <= n <= MAX_COUNT for n in counts),
                 f"{key}.prompted_counts", list(counts), f"at least two distinct counts in [0, {MAX_COUNT}]")
        _within(f"{key}.images_per_count", self.images_per_count, 1, MAX_IMAGES)
        _require(0 <= self.count_cv <= 3, f"{key}.count_cv", self.count_cv, "in [0, 3]")


@dataclass(frozen=True)
class SimBenchmark(Section):
    """A test split rendered by the embedded simulator, with exact head points."""

    format: str
    style: str
    n_images: int
    count_median: float
    count_sigma: float
    count_range: tuple[int, int]
    train_images: int = 0  # a labelled training split, used only by the ablation's supervised oracle

    def validate(self, key: str) -> None:
        _require(self.style in ("sparse", "dense"), f"{key}.style", self.style, "sparse | dense")
        _within(f"{key}.n_images", self.n_images, 2, MAX_IMAGES)
        _within(f"{key}.train_images", self.train_images, 2, MAX_IMAGES,
                " (the supervised oracle of the ablation fits a probe on them)")
        _require(0 < self.count_median <= MAX_COUNT, f"{key}.count_median", self.count_median, f"in (0, {MAX_COUNT}]")
        _within(f"{key}.count_sigma", self.count_sigma, 0, 5, " (a log-normal spread; 5 spans 10 orders of magnitude)")
        _range(f"{key}.count_range", self.count_range, 0, MAX_COUNT, f"0 <= low <= high <= {MAX_COUNT}")


# Official splits of each downloadable dataset (folder names are mapped by syrac.data.datasets).
DATASET_SPLITS = {"shanghaitech": ("train", "test"), "ucf_qnrf": ("train", "test"),
                  "jhu_crowd": ("train", "val", "test")}


@dataclass(frozen=True)
class DatasetSplit(Section):
    """A downloaded dataset split (a benchmark by default), read in its official layout from ``root``."""

    format: str
    root: str
    split: str = "test"

    def validate(self, key: str) -> None:
        _require(bool(self.root), f"{key}.root", self.root, "the dataset folder (see datasets/README.md)")
        if not _require(self.format in DATASET_SPLITS, f"{key}.format", self.format, " | ".join(DATASET_SPLITS)):
            return
        splits = DATASET_SPLITS[self.format]
        _require(self.split in splits, f"{key}.split", self.split, " | ".join(splits))


def _tagged_class(value, key: str, simulated: type, dataset: type):
    """Sources and benchmarks are tagged by ``format``: the simulator or one of the dataset layouts."""
    formats = ("embedded", *DATASET_SPLITS)
    fmt = value.get("format") if isinstance(value, dict) else None
    if not _require(fmt in formats, f"{key}.format", fmt, " | ".join(formats)):
        return None
    return simulated if fmt == "embedded" else dataset


@dataclass(frozen=True)
class DatasetSources(DatasetSplit):
    """The images (never the annotations) of a downloaded dataset split, as in the paper."""

    split: str = "train"


Benchmark = typing.Union[SimBenchmark, DatasetSplit]
Sources = typing.Union[SimSources, DatasetSources]
TAGGED = {Benchmark: (SimBenchmark, DatasetSplit), Sources: (SimSources, DatasetSources)}


@dataclass(frozen=True)
class Generator(Section):
    """What makes the removal edits and the counting set: the simulator or Stable Diffusion."""

    backend: str
    launcher: str
    model: str
    removal_prompt: str
    removal_negative_prompt: str
    counting_prompt: str
    empty_prompt: str
    counting_negative_prompt: str
    guidance_scale: float
    steps: int
    edit_size: tuple[int, int]
    image_size: tuple[int, int]
    batch_size: int
    attention_slicing: bool

    def validate(self, key: str) -> None:
        _require(self.backend in ("embedded", "diffusers"), f"{key}.backend", self.backend, "embedded | diffusers")
        _require(self.launcher.split()[:1] == ["python"] or self.launcher.split()[:2] == ["accelerate", "launch"],
                 f"{key}.launcher", self.launcher, "python, or accelerate launch with its options")
        _require(bool(self.model), f"{key}.model", self.model, "a Hugging Face model id or a local folder")
        _require("{n}" in self.counting_prompt, f"{key}.counting_prompt", self.counting_prompt,
                 "a prompt with {n} where the count goes")
        for name in ("removal_prompt", "empty_prompt"):
            _require(bool(getattr(self, name).strip()), f"{key}.{name}", getattr(self, name), "a non-empty prompt")
        _within(f"{key}.guidance_scale", self.guidance_scale, 1, 100)
        _within(f"{key}.steps", self.steps, 1, 1000, " (the scheduler's training timesteps)")
        for name in ("edit_size", "image_size"):
            size = getattr(self, name)
            _require(all(8 <= side <= MAX_SIDE and side % 8 == 0 for side in size), f"{key}.{name}", list(size),
                     f"[height, width], multiples of 8 (the autoencoder downsamples by 8) up to {MAX_SIDE}")
        _within(f"{key}.batch_size", self.batch_size, 1, MAX_BATCH)


@dataclass(frozen=True)
class Data(Section):
    bad_images: str = "fail"

    def validate(self, key: str) -> None:
        _require(self.bad_images in ("fail", "skip"), f"{key}.bad_images", self.bad_images,
                 "fail (stop at the first unreadable image) | skip (warn, count it in metrics)")


# Each backbone and its number of stages, input to output (syrac.method.model.encoder_stages)
ENCODER_STAGES = {"efficientnet_lite0": 9, "mobilenet_v3_small": 13, "mobilenet_v3_large": 17, "resnet18": 5,
                  "resnet34": 5, "resnet50": 5}
BACKBONES = tuple(ENCODER_STAGES)


@dataclass(frozen=True)
class Model(Section):
    backbone: str
    pretrained: str
    input_size: tuple[int, int]
    precision: str

    def validate(self, key: str) -> None:
        _require(self.precision in ("auto", "fp32"), f"{key}.precision", self.precision, "auto | fp32")
        _require(self.backbone in BACKBONES, f"{key}.backbone", self.backbone, " | ".join(BACKBONES))
        _require(self.pretrained in ("none", "imagenet"), f"{key}.pretrained", self.pretrained, "none | imagenet")
        _require(len(self.input_size) == 2 and 32 <= min(self.input_size) <= max(self.input_size) <= MAX_SIDE,
                 f"{key}.input_size", list(self.input_size), f"[height, width], each in [32, {MAX_SIDE}]")


AUGMENTATIONS = ("paper", "authors")  # syrac.method.augment
SCALE_TARGETS = ("head", "features")  # syrac.method.scale
SELECTION_CRITERIA = ("accuracy", "loss")  # the held-out synthetic pairs' ranking accuracy or loss
REMOVAL_AIMS = ("regions", "people", "people_within")  # syrac.method.pretrain.with_removals: where copies inpaint


@dataclass(frozen=True)
class Pretrain(Section):
    epochs: int
    batch_size: int
    lr: float
    holdout_fraction: float
    brightness: float
    flip: bool
    # Real photos (images only, never annotations) whose nested crops join the training pairs
    # (intra-image ranking, Liu et al. 2018): count(photo) >= count(crop) needs no label.
    unlabelled_photos: tuple[DatasetSources, ...] = ()
    photo_crops: int = 2  # nested crops per photo
    photo_crop_scale: float = 0.6  # area of each crop relative to its parent
    # Removal edits of the same photos without a generator: copies with random regions inpainted from
    # their surroundings join the pairs, count(photo) >= count(edit) (syrac.method.pretrain.with_removals).
    photo_removals: int = 0  # inpainted copies per photo; 0: none
    photo_removal_area: float = 0.2  # share of the image each copy inpaints
    photo_removal_aim: str = "regions"  # regions: random ellipses | people: the detector's people first
    self_supervised_epochs: int = 0  # rotation pretext epochs on the training images first (syrac.method.domain)
    adapt_bn: bool = False  # batch-norm statistics recomputed on the unlabelled photos afterwards (AdaBN)
    frozen_stages: int = 0  # the encoder's first stages kept as initialised during rank pre-training
    augmentations: str = "paper"  # paper: flips and brightness | authors: their released code's set on top
    scale_relations: float = 0.0  # weight of the scale relations' loss (syrac.method.scale); 0: not trained
    scale_images: int = 8  # unlabelled images a step relates to their 2x2 cells (and, by fours, to their mosaic)
    scale_target: str = "head"  # what keeps the relations: the rank head's count, or every ReLU feature
    select_on: str = "accuracy"  # the checkpoint kept: best held-out ranking accuracy, or loss (the authors')
    patience: int = 0  # > 0: stop once this many epochs pass without a better held-out figure; 0: every epoch

    @property
    def removes_detected_people(self) -> bool:
        """Removal copies aimed at the detector's people: stage cut_out_people then scans the photos for
        them, and rank pre-training reads its boxes."""
        return self.photo_removals > 0 and self.photo_removal_aim != "regions"

    def validate(self, key: str) -> None:
        _within(f"{key}.self_supervised_epochs", self.self_supervised_epochs, 0, MAX_EPOCHS)
        _require(not self.adapt_bn or bool(self.unlabelled_photos), f"{key}.adapt_bn", self.adapt_bn,
                 f"true only with {key}.unlabelled_photos declared (the statistics are theirs)")
        _within(f"{key}.photo_crops", self.photo_crops, 1, 16)
        _require(0 < self.photo_crop_scale < 1, f"{key}.photo_crop_scale", self.photo_crop_scale, "in (0, 1)")
        _within(f"{key}.photo_removals", self.photo_removals, 0, 16)
        _require(not self.photo_removals or bool(self.unlabelled_photos), f"{key}.photo_removals",
                 self.photo_removals, f"0 unless {key}.unlabelled_photos are declared (the edits are of them)")
        _require(0 < self.photo_removal_area < 1, f"{key}.photo_removal_area", self.photo_removal_area, "in (0, 1)")
        _require(self.photo_removal_aim in REMOVAL_AIMS, f"{key}.photo_removal_aim", self.photo_removal_aim,
                 " or ".join(REMOVAL_AIMS))
        _within(f"{key}.epochs", self.epochs, 1, MAX_EPOCHS)
        _within(f"{key}.batch_size", self.batch_size, 2, MAX_BATCH)
        _require(0 < self.lr <= 1, f"{key}.lr", self.lr, "in (0, 1] (Adam's useful rates lie far below 1)")
        _require(0 < self.holdout_fraction < 1, f"{key}.holdout_fraction", self.holdout_fraction, "in (0, 1)")
        _require(0 <= self.brightness < 1, f"{key}.brightness", self.brightness, "in [0, 1)")
        _require(self.augmentations in AUGMENTATIONS, f"{key}.augmentations", self.augmentations,
                 " or ".join(AUGMENTATIONS))
        _within(f"{key}.scale_relations", self.scale_relations, 0, 100)
        _within(f"{key}.scale_images", self.scale_images, 1, MAX_BATCH)
        _require(self.scale_target in SCALE_TARGETS, f"{key}.scale_target", self.scale_target,
                 " or ".join(SCALE_TARGETS))
        _require(self.select_on in SELECTION_CRITERIA, f"{key}.select_on", self.select_on,
                 " or ".join(SELECTION_CRITERIA))
        _within(f"{key}.patience", self.patience, 0, MAX_EPOCHS)


PROBE_LABELS = ("prompted", "rank_refined")


@dataclass(frozen=True)
class Probe(Section):
    ridge_grid: tuple[float, ...]
    folds: int
    labels: str = "prompted"  # what the probe is fitted on: the prompted N, or those re-ordered by the rank head
    refined_label_cv: float = 0.4  # rank_refined: spread of the true count assumed around a prompted N
    form: str = "ridge"  # a read-out of syrac/method/readouts/, checked there: ridge | nonnegative (the authors')

    def validate(self, key: str) -> None:
        _require(len(self.ridge_grid) >= 1 and all(0 <= alpha <= 1e6 for alpha in self.ridge_grid),
                 f"{key}.ridge_grid", list(self.ridge_grid), "a non-empty list of values in [0, 1e6]")
        _within(f"{key}.folds", self.folds, 2, 100)
        _require(self.labels in PROBE_LABELS, f"{key}.labels", self.labels, " or ".join(PROBE_LABELS))
        _require(0 < self.refined_label_cv <= 2, f"{key}.refined_label_cv", self.refined_label_cv, "in (0, 2]")
        _require(isinstance(self.form, str) and self.form.isidentifier(), f"{key}.form", self.form,
                 "the name of a read-out (a module of syrac/method/readouts/)")


AUTO = "auto"  # evaluate.patches: K chosen by the label-free rule among evaluate.sweep


@dataclass(frozen=True)
class Evaluate(Section):
    """K per benchmark: datasets differ in resolution, so each gets the grid whose patches are
    closest to the network's input size (one K for 768x1024 ShanghaiTech B and 2000x3000 UCF-QNRF
    would shrink one or blow up the other)."""

    patches: dict[str, int | str]  # K, or "auto": the label-free rule of syrac.inference.evaluation.choose_grid
    sweep: tuple[int, ...]

    def validate(self, key: str) -> None:
        _require(len(self.sweep) >= 1 and all(1 <= k <= 16 for k in self.sweep), f"{key}.sweep",
                 list(self.sweep), "a non-empty list of K with 1 <= K <= 16")
        for name, k in self.patches.items():
            if isinstance(k, str):
                _require(k == AUTO, f"{key}.patches.{name}", k, f"a K with 1 <= K <= 16, or {AUTO}")
            elif _require(1 <= k <= 16, f"{key}.patches.{name}", k, f"1 <= K <= 16, or {AUTO}"):
                _require(k in self.sweep, f"{key}.patches.{name}", k,
                         f"one of evaluate.sweep {list(self.sweep)} (features are extracted for those K only)")

    @property
    def extracted(self) -> tuple[int, ...]:
        """The grid sizes whose patch features are extracted once and cached."""
        return tuple(sorted(set(self.sweep)))


@dataclass(frozen=True)
class Ablation(Section):
    """The paper's Table 3 baselines, trained with the same budget as SYRAC where they train."""

    intra_crops: int  # nested crops per source for intra-image ranking (Liu et al. 2018)
    intra_crop_scale: float  # area of each crop relative to the image it is cut from
    end_to_end_epochs: int  # "no pre-training": encoder + head trained on the noisy counting set

    def validate(self, key: str) -> None:
        _within(f"{key}.intra_crops", self.intra_crops, 1, 16)
        _require(0 < self.intra_crop_scale < 1, f"{key}.intra_crop_scale", self.intra_crop_scale, "in (0, 1)")
        _within(f"{key}.end_to_end_epochs", self.end_to_end_epochs, 1, MAX_EPOCHS)


@dataclass(frozen=True)
class Umap(Section):
    n_neighbors: int
    min_dist: float

    def validate(self, key: str) -> None:
        _within(f"{key}.n_neighbors", self.n_neighbors, 2, 1000)
        _require(0 <= self.min_dist <= 1, f"{key}.min_dist", self.min_dist, "in [0, 1]")


@dataclass(frozen=True)
class Review(Section):
    """The studies answering the paper's reviewers (syrac/studies/review.py)."""

    worst_pairs: int = 6  # misordered real pairs listed (and drawn) per benchmark

    def validate(self, key: str) -> None:
        _within(f"{key}.worst_pairs", self.worst_pairs, 1, 1000)


FINEST_GRIDS = (1, 2, 4, 8, 16)  # a quadtree's grids


def quadtree_grids(finest: int) -> tuple[int, ...]:
    """The grids a tiling down to ``finest`` may read: 1, 2, 4, ... up to it."""
    return tuple(2**level for level in range(finest.bit_length()))


@dataclass(frozen=True)
class Tiling(Section):
    """Each image on its own tiling (syrac/inference/tiling.py): a region read above the counter's
    ceiling is split into its 2x2 cells, down to the ``finest`` grid."""

    finest: int = 2  # a power of 2; 4 with the ceiling alone lost on both training splits: docs/tiling.md
    split_saturated: bool = False  # also split where the 2x2 cells read more than the region: docs/count-scale.md
    min_cell: float = 0.0  # > 0: no cell under this share of model.input_size on a side; docs/count-scale.md

    def validate(self, key: str) -> None:
        _require(self.finest in FINEST_GRIDS, f"{key}.finest", self.finest,
                 f"{', '.join(map(str, FINEST_GRIDS[:-1]))} or {FINEST_GRIDS[-1]} (a quadtree's grids)")
        _within(f"{key}.min_cell", self.min_cell, 0.0, 1.0, " (a share of model.input_size; 0: any cell)")


PEER_DETECTORS = ("hog", "ssd_mobilenet_v2")  # syrac/studies/peers.py


@dataclass(frozen=True)
class Peers(Section):
    """Off-the-shelf person detectors counted beside SYRAC (syrac/studies/peers.py); none: no peer rows."""

    detectors: tuple[str, ...] = PEER_DETECTORS

    def validate(self, key: str) -> None:
        _require(all(d in PEER_DETECTORS for d in self.detectors) and len(set(self.detectors)) == len(self.detectors),
                 f"{key}.detectors", list(self.detectors), f"distinct names among {', '.join(PEER_DETECTORS)}, or []")


SEED_LIMIT = 2**32  # NumPy's legacy generators (and scipy/umap through them) take seeds below it


@dataclass(frozen=True)
class Config(Section):
    seed: int
    world: World
    sources: Sources
    pairs: Pairs
    counting: Counting
    generator: Generator
    benchmarks: dict[str, Benchmark]
    model: Model
    pretrain: Pretrain
    probe: Probe
    evaluate: Evaluate
    ablation: Ablation
    umap: Umap = field(default_factory=lambda: Umap(15, 0.1))
    review: Review = field(default_factory=Review)
    peers: Peers = field(default_factory=Peers)
    tiling: Tiling = field(default_factory=Tiling)
    data: Data = field(default_factory=Data)

    def validate(self, key: str = "") -> None:
        _require(0 <= self.seed < SEED_LIMIT, "seed", self.seed,
                 "an integer in [0, 2**32): NumPy's and PyTorch's generators both take it")
        _require(len(self.benchmarks) >= 1, "benchmarks", self.benchmarks, "at least one benchmark")
        for name in self.benchmarks:
            _require(name.replace("_", "").isalnum(), "benchmarks", name, "names of letters, digits and _")
            _require(name in self.evaluate.patches, "evaluate.patches", dict(self.evaluate.patches),
                     f"a K for every benchmark; add {name}: K (patches of about model.input_size)")
        for name in self.evaluate.patches:
            _require(name in self.benchmarks, f"evaluate.patches.{name}", self.evaluate.patches[name],
                     f"K of a benchmark in params benchmarks ({', '.join(self.benchmarks)}); remove it")
        _require(isinstance(self.sources, SimSources) or self.generator.backend == "diffusers", "sources.format",
                 self.sources.format, "embedded while generator.backend is embedded: the simulator's removal "
                 "edit works on its own scenes; set generator.backend: diffusers to edit dataset images")
        if self.model.backbone in ENCODER_STAGES:  # an unknown one is reported by Model.validate
            stages = ENCODER_STAGES[self.model.backbone]
            _within(
                "pretrain.frozen_stages",
                self.pretrain.frozen_stages,
                0,
                stages,
                f" ({self.model.backbone} has {stages})",
            )
        if self.tiling.finest in FINEST_GRIDS:  # another value is reported by Tiling.validate
            grids = list(quadtree_grids(self.tiling.finest))
            _require(set(grids) <= set(self.evaluate.sweep), "tiling.finest", self.tiling.finest,
                     f"a finest grid whose tiling reads only grids in evaluate.sweep {list(self.evaluate.sweep)} "
                     f"(it reads {grids}; their features are the ones extracted)")
        _require(not self.counting.photo_people or bool(self.pretrain.unlabelled_photos), "counting.photo_people",
                 self.counting.photo_people, "0 unless pretrain.unlabelled_photos are declared: the people are cut "
                 "out of them")
        strength = self.pairs.strength  # a strength out of (0, 1] is reported by Pairs.validate
        if self.generator.backend == "diffusers" and 0 < strength <= 1:
            _require(int(self.generator.steps * strength) >= 1, "generator.steps", self.generator.steps,
                     f"at least {math.ceil(1 / strength)} with pairs.strength {strength}: image-to-image runs "
                     "steps x strength denoising steps, and zero would return the source")

    @property
    def simulated_benchmarks(self) -> dict[str, SimBenchmark]:
        return {n: b for n, b in self.benchmarks.items() if isinstance(b, SimBenchmark)}

    @property
    def dataset_benchmarks(self) -> dict[str, DatasetSplit]:
        return {n: b for n, b in self.benchmarks.items() if isinstance(b, DatasetSplit)}


SCALAR_NAMES = {int: "an integer", float: "a number", str: "a string"}


def _convert(value, hint, key: str):
    """Convert a YAML value to the annotated type, or record which key is wrong and why."""
    origin = typing.get_origin(hint)
    if hint in TAGGED:
        cls = _tagged_class(value, key, *TAGGED[hint])
        return _INVALID if cls is None else _build(cls, value, key)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key) if _require(isinstance(value, dict), key, value, "a mapping") else _INVALID
    if origin is dict:
        if not _require(isinstance(value, dict), key, value, "a mapping"):
            return _INVALID
        _, item = typing.get_args(hint)
        items = {str(k): _convert(v, item, f"{key}.{k}") for k, v in value.items()}
        return _INVALID if _INVALID in items.values() else items
    if origin is tuple:
        if not _require(isinstance(value, list), key, value, "a list"):
            return _INVALID
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif not _require(len(value) == len(args), key, value, f"a list of {len(args)} values"):
            return _INVALID
        items = tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        return _INVALID if _INVALID in items else items
    if origin is types.UnionType:  # a choice of scalars, e.g. int | str; each type's own rule is in validate
        scalars = typing.get_args(hint)
        ok = _require(isinstance(value, scalars) and not isinstance(value, bool), key, value,
                      " or ".join(SCALAR_NAMES[t] for t in scalars))
    elif hint is bool:
        ok = _require(isinstance(value, bool), key, value, "true or false")
    elif hint is int:
        ok = _require(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
    elif hint is float:
        ok = _require(isinstance(value, (int, float)) and not isinstance(value, bool), key, value, "a number")
        value = float(value) if ok else value
    elif hint is str:
        ok = _require(isinstance(value, str), key, value, "a string")
    else:
        raise TypeError(f"unsupported annotation {hint!r} for {key}")  # a bug in this module, not in params
    return value if ok else _INVALID


def _build(cls, data: dict, prefix: str):
    """The dataclass from its mapping, validated; _INVALID if any of its fields is bad."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for unknown in sorted(set(data) - set(names)):
        _require(False, f"{prefix}.{unknown}" if prefix else unknown, data[unknown],
                 f"unknown key; expected one of {names}")
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            values[f.name] = _convert(data[f.name], hints[f.name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            _problems.append(f"params.yaml: {key} is missing")
            values[f.name] = _INVALID
    if _INVALID in values.values():
        return _INVALID
    obj = cls(**values)
    obj.validate(prefix)
    object.__setattr__(obj, "_key", prefix)  # what Section records a field's read as
    return obj


def from_dict(data: dict) -> Config:
    """The typed config, or a ConfigError listing every problem found."""
    _problems.clear()
    try:
        config = _build(Config, data, "") if _require(isinstance(data, dict), "params", type(data).__name__,
                                                      "a YAML mapping") else _INVALID
        if _problems:
            raise ConfigError(list(_problems))
        return config
    finally:
        _problems.clear()


def load(path: str | Path = "params.yaml") -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{path} not found: run from the repository root, where params.yaml lives"])
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError([f"{path} is not valid YAML: {error}"]) from None
    return from_dict(data or {})


def stage_paths(*names: str, optional: tuple[str, ...] = (), argv: list[str] | None = None) -> argparse.Namespace:
    """For stage scripts: the paths dvc.yaml's cmd passes by name (``--model-path models/rank.pt`` for
    ``model_path``), so a cmd can neither hand a script its inputs in another order nor leave one out."""
    parser = argparse.ArgumentParser(description="a DVC stage (see dvc.yaml)")
    for name in (*names, *optional):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=name not in optional)
    return parser.parse_args(argv)


def load_for_stage(path: str | Path = "params.yaml") -> Config:
    """For stage scripts: bad parameters end the run with one line per problem and exit code 2,
    before any output is touched. A SIGTERM (a scheduler's kill) then ends the stage like an
    exception, so pending temporary files are removed on the way out."""
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    try:
        config = load(path)
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    if os.environ.get("SYRAC_PARAMS_READ"):
        _record_reads(Path(os.environ["SYRAC_PARAMS_READ"]))
    return config


def _record_reads(path: Path) -> None:
    """From now on note every params key this process, and any worker process it forks, reads. Each
    key is appended to ``path`` as a JSON line when first read (a pool worker's exit runs no atexit
    hook), after a line that names the stage script."""
    global _recording
    _recording = (path, set())
    _append_reads([])


def _note_read(key: str) -> None:
    if key not in _recording[1]:
        _recording[1].add(key)
        _append_reads([key])


def _append_reads(keys: list[str]) -> None:
    with open(_recording[0], "a") as handle:
        handle.write(json.dumps({"script": Path(sys.argv[0]).name, "argv": sys.argv[1:], "reads": keys}) + "\n")
