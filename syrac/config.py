"""Typed, validated view of params.yaml.

Every stage calls :func:`load` first, so a bad value stops the run before any output is touched,
with one message naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A parameter is missing, unknown, mistyped or out of range."""


def _require(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"params.yaml: {key} = {value!r} is not allowed: {allowed}")


def _range(key: str, pair: tuple, lo: float, hi: float, what: str) -> None:
    _require(len(pair) == 2 and lo <= pair[0] <= pair[1] <= hi, key, list(pair), f"[low, high] with {what}")


@dataclass(frozen=True)
class World:
    min_person_px: float = 3.0

    def validate(self, key: str) -> None:
        _require(self.min_person_px >= 1, f"{key}.min_person_px", self.min_person_px, ">= 1")


@dataclass(frozen=True)
class Sources:
    n_images: int
    dense_fraction: float
    count_range: tuple[int, int]

    def validate(self, key: str) -> None:
        _require(self.n_images >= 2, f"{key}.n_images", self.n_images, ">= 2 (some are held out)")
        _require(0 <= self.dense_fraction <= 1, f"{key}.dense_fraction", self.dense_fraction, "in [0, 1]")
        _range(f"{key}.count_range", self.count_range, 0, 10**5, "0 <= low <= high")


@dataclass(frozen=True)
class Pairs:
    edits_per_source: int
    strength: float
    remove_prob: tuple[float, float]
    clutter_prob: float

    def validate(self, key: str) -> None:
        _require(self.edits_per_source >= 1, f"{key}.edits_per_source", self.edits_per_source, ">= 1")
        _require(0 < self.strength <= 1, f"{key}.strength", self.strength, "0 < strength <= 1")
        _range(f"{key}.remove_prob", self.remove_prob, 0, 1, "0 <= low <= high <= 1")
        _require(0 <= self.clutter_prob <= 1, f"{key}.clutter_prob", self.clutter_prob, "in [0, 1]")


@dataclass(frozen=True)
class Counting:
    prompted_counts: tuple[int, ...]
    images_per_count: int
    count_cv: float

    def validate(self, key: str) -> None:
        counts = self.prompted_counts
        _require(len(counts) >= 2 and len(set(counts)) == len(counts) and min(counts) >= 0,
                 f"{key}.prompted_counts", list(counts), "at least two distinct counts >= 0")
        _require(self.images_per_count >= 1, f"{key}.images_per_count", self.images_per_count, ">= 1")
        _require(0 <= self.count_cv <= 3, f"{key}.count_cv", self.count_cv, "in [0, 3]")


@dataclass(frozen=True)
class Benchmark:
    style: str
    n_images: int
    count_median: float
    count_sigma: float
    count_range: tuple[int, int]

    def validate(self, key: str) -> None:
        _require(self.style in ("sparse", "dense"), f"{key}.style", self.style, "sparse | dense")
        _require(self.n_images >= 2, f"{key}.n_images", self.n_images, ">= 2")
        _require(self.count_median > 0, f"{key}.count_median", self.count_median, "> 0")
        _require(self.count_sigma >= 0, f"{key}.count_sigma", self.count_sigma, ">= 0")
        _range(f"{key}.count_range", self.count_range, 0, 10**5, "0 <= low <= high")


BACKBONES = ("mobilenet_v3_small", "mobilenet_v3_large", "resnet18", "resnet34", "resnet50")


@dataclass(frozen=True)
class Model:
    backbone: str
    pretrained: str
    input_size: tuple[int, int]

    def validate(self, key: str) -> None:
        _require(self.backbone in BACKBONES, f"{key}.backbone", self.backbone, " | ".join(BACKBONES))
        _require(self.pretrained in ("none", "imagenet"), f"{key}.pretrained", self.pretrained, "none | imagenet")
        _require(len(self.input_size) == 2 and min(self.input_size) >= 32, f"{key}.input_size",
                 list(self.input_size), "[height, width], each >= 32")


@dataclass(frozen=True)
class Pretrain:
    epochs: int
    batch_size: int
    lr: float
    holdout_fraction: float
    brightness: float
    flip: bool

    def validate(self, key: str) -> None:
        _require(self.epochs >= 1, f"{key}.epochs", self.epochs, ">= 1")
        _require(self.batch_size >= 2, f"{key}.batch_size", self.batch_size, ">= 2")
        _require(self.lr > 0, f"{key}.lr", self.lr, "> 0")
        _require(0 < self.holdout_fraction < 1, f"{key}.holdout_fraction", self.holdout_fraction, "in (0, 1)")
        _require(0 <= self.brightness < 1, f"{key}.brightness", self.brightness, "in [0, 1)")


@dataclass(frozen=True)
class Probe:
    ridge_grid: tuple[float, ...]
    folds: int

    def validate(self, key: str) -> None:
        _require(len(self.ridge_grid) >= 1 and min(self.ridge_grid) >= 0, f"{key}.ridge_grid",
                 list(self.ridge_grid), "a non-empty list of values >= 0")
        _require(self.folds >= 2, f"{key}.folds", self.folds, ">= 2")


@dataclass(frozen=True)
class Evaluate:
    patches: int
    sweep: tuple[int, ...]

    def validate(self, key: str) -> None:
        _require(1 <= self.patches <= 16, f"{key}.patches", self.patches, "1 <= K <= 16")
        _require(len(self.sweep) >= 1 and all(1 <= k <= 16 for k in self.sweep), f"{key}.sweep",
                 list(self.sweep), "a non-empty list of K with 1 <= K <= 16")
        _require(self.patches in self.sweep, f"{key}.patches", self.patches,
                 f"one of evaluate.sweep {list(self.sweep)} (features are extracted for those K only)")

    @property
    def extracted(self) -> tuple[int, ...]:
        """The grid sizes whose patch features are extracted once and cached."""
        return tuple(sorted(set(self.sweep)))


@dataclass(frozen=True)
class Umap:
    n_neighbors: int
    min_dist: float

    def validate(self, key: str) -> None:
        _require(self.n_neighbors >= 2, f"{key}.n_neighbors", self.n_neighbors, ">= 2")
        _require(0 <= self.min_dist <= 1, f"{key}.min_dist", self.min_dist, "in [0, 1]")


@dataclass(frozen=True)
class Config:
    seed: int
    world: World
    sources: Sources
    pairs: Pairs
    counting: Counting
    benchmarks: dict[str, Benchmark]
    model: Model
    pretrain: Pretrain
    probe: Probe
    evaluate: Evaluate
    umap: Umap = field(default_factory=lambda: Umap(15, 0.1))

    def validate(self, key: str = "") -> None:
        _require(len(self.benchmarks) >= 1, "benchmarks", self.benchmarks, "at least one benchmark")
        for name in self.benchmarks:
            _require(name.replace("_", "").isalnum(), "benchmarks", name, "names of letters, digits and _")


def _convert(value, hint, key: str):
    """Convert a YAML value to the annotated type, or say which key is wrong and why."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        _require(isinstance(value, dict), key, value, "a mapping")
        return _build(hint, value, key)
    if origin is dict:
        _require(isinstance(value, dict), key, value, "a mapping")
        _, item = typing.get_args(hint)
        return {str(k): _convert(v, item, f"{key}.{k}") for k, v in value.items()}
    if origin is tuple:
        _require(isinstance(value, list), key, value, "a list")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        _require(len(value) == len(args), key, value, f"a list of {len(args)} values")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if hint is bool:
        _require(isinstance(value, bool), key, value, "true or false")
        return value
    if hint is int:
        _require(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        return value
    if hint is float:
        _require(isinstance(value, (int, float)) and not isinstance(value, bool), key, value, "a number")
        return float(value)
    if hint is str:
        _require(isinstance(value, str), key, value, "a string")
        return value
    raise TypeError(f"unsupported annotation {hint!r} for {key}")  # a bug in this module, not in params


def _build(cls, data: dict, prefix: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    _require(not unknown, f"{prefix or 'params'}", unknown[:1] and unknown[0],
             f"unknown key; expected one of {sorted(names)}")
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            values[f.name] = _convert(data[f.name], hints[f.name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"params.yaml: {key} is missing")
    obj = cls(**values)
    obj.validate(prefix)
    return obj


def from_dict(data: dict) -> Config:
    _require(isinstance(data, dict), "params", type(data).__name__, "a YAML mapping")
    return _build(Config, data, "")


def load(path: str | Path = "params.yaml") -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} not found: run from the repository root, where params.yaml lives")
    return from_dict(yaml.safe_load(path.read_text()) or {})


def load_for_stage(path: str | Path = "params.yaml") -> Config:
    """For stage scripts: a bad parameter ends the run with one clear line and exit code 2,
    before any output is touched."""
    try:
        return load(path)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
