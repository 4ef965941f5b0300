"""The counter file: the rank network, its probe, the tiling rule and the provenance in one file
(``models/syrac.pt``), which ``syrac count`` loads alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from syrac.config import Config, DatasetSources
from syrac.method.model import IMAGENET_MEAN, IMAGENET_STD, read_model_file, save_torch
from syrac.method.probe import LinearProbe


def provenance(cfg: Config) -> dict:
    """What a counter was trained on, from the params that trained it (stored in the counter file, so
    that `syrac count` can name it): the generator of its synthetic images and the photographs, if any,
    whose pixels (never their labels) rank pre-training saw."""
    photos = [
        f"{p.format} {p.root} ({p.split} split, less its development part)" for p in cfg.pretrain.unlabelled_photos
    ]
    if isinstance(cfg.sources, DatasetSources):
        photos.insert(
            0, f"{cfg.sources.format} {cfg.sources.root} ({cfg.sources.split} split): the removal edits' sources"
        )
    generator = ("renders of the embedded crowd simulator" if cfg.generator.backend == "embedded"
                 else f"Stable Diffusion images ({cfg.generator.model})")
    return {"synthetic": generator, "photographs": photos, "backbone": cfg.model.backbone,
            "input_size": list(cfg.model.input_size), "probe": f"{cfg.probe.form}, {cfg.probe.labels} labels",
            "seed": cfg.seed}


def save_counter(path: str | Path, rank_checkpoint: dict, probe: LinearProbe) -> None:
    """One self-contained file: encoder, rank head, probe and preprocessing (what `count` needs)."""
    bundle = {**rank_checkpoint, "probe_weight": torch.from_numpy(np.asarray(probe.weight)),
              "probe_bias": float(probe.bias), "normalisation": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}}
    save_torch(bundle, path)


def probe_from_bundle(bundle: dict) -> LinearProbe:
    return LinearProbe(bundle["probe_weight"].numpy(), float(bundle["probe_bias"]))


def load_probe(path: str | Path) -> LinearProbe:
    """The linear probe stored in a counter file, without building the network."""
    return probe_from_bundle(read_model_file(path))
