"""The pre-training ablation (paper Table 3): what each kind of pre-training buys the same probe.

Every strategy gives an encoder; each is read out by the same ridge probe fitted on the noisy
counting set and evaluated with the same KxK patch inference:

- ``no_pretraining``: encoder and head trained end to end on the noisy counting set (MSE), then probed.
- ``random_init_features``: the encoder with random weights, untrained.
- ``imagenet_features``: an ImageNet-initialised encoder, untrained: what ImageNet alone teaches about
  counts. The one SYRAC starts from with ``model.pretrained: imagenet``, else EfficientNet-Lite0,
  whose ImageNet weights a registry package installs (``syrac.method.lite0``).
- ``intra_image_rank``: rank pre-training on nested crops of the same unlabelled sources (Liu et
  al. 2018): a crop holds no more people than the image it is cut from. No generator needed.
- ``synthetic_rank``: SYRAC.
- ``synthetic_rank_fine_tuned``: SYRAC's network fine-tuned whole on the noisy counting set with the
  end-to-end budget, then probed like the rest (the review's "frozen or fine-tuned?").
- ``oracle``: SYRAC's encoder with a probe fitted on the *ground-truth* counts of the KxK patches
  of each benchmark's training split (the scale it is applied at). It uses labels: an upper bound
  for a linear probe on these features, not a competitor.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from syrac.config import Config
from syrac.inference.evaluation import load_features
from syrac.method import lite0
from syrac.method.augment import augment
from syrac.method.features import extract
from syrac.method.model import (
    RankCounter,
    compute_device,
    new_model,
    to_device,
    train_epoch,
)
from syrac.method.pretrain import proxy_counts, seed_everything


def init_strategy(cfg: Config) -> str:
    """The name of the encoder rank pre-training starts from."""
    return "imagenet_features" if cfg.model.pretrained == "imagenet" else "random_init_features"


def initial_model(cfg: Config) -> RankCounter:
    """The encoder exactly as rank pre-training starts from it (same seed, same draws)."""
    seed_everything(cfg.seed)
    return new_model(cfg.model).eval()


def untrained_models(cfg: Config) -> dict[str, RankCounter]:
    """Table 3's untrained encoders: random weights, and ImageNet's (SYRAC's own backbone when it
    starts from ImageNet, else EfficientNet-Lite0), so the paper's ImageNet row is in every run."""
    imagenet = cfg.model if cfg.model.pretrained == "imagenet" else replace(cfg.model, backbone=lite0.BACKBONE,
                                                                           pretrained="imagenet")
    return {"random_init_features": initial_model(replace(cfg, model=replace(cfg.model, pretrained="none"))),
            "imagenet_features": initial_model(replace(cfg, model=imagenet))}


def train_end_to_end(cfg: Config, images: torch.Tensor, targets: np.ndarray, epochs: int,
                     start: RankCounter | None = None) -> tuple[RankCounter, dict]:
    """"No pre-training": the same network trained to regress the noisy prompted counts directly.

    Same initialisation, optimiser, learning rate, batch size and augmentation as rank
    pre-training; the target is scaled by the mean label so the loss starts near 1. With ``start``
    (the review's "frozen or fine-tuned?"), that network is fine-tuned whole instead, its rank head
    rescaled so that its mean count on the counting set starts at the mean label.
    """
    p = cfg.pretrain
    generator = seed_everything(cfg.seed)
    device = compute_device()
    model = to_device(start if start is not None else new_model(cfg.model), device)
    scale = float(np.mean(targets)) or 1.0
    if start is not None:
        rescale_head(model, images, p.batch_size, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=p.lr)
    model.head.attach(optimizer)
    y = torch.tensor(targets / scale, dtype=torch.float32, device=device)

    def batch_loss(batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        batch_images = images[batch].to(device, non_blocking=True)
        counts = proxy_counts(model, augment(batch_images, p.brightness, p.flip, generator, p.augmentations), device)
        return F.mse_loss(counts, y[batch.to(device)]), 0

    what = "end to end" if start is None else "fine-tune"
    history = []
    for epoch in range(1, epochs + 1):
        mean_loss, _ = train_epoch(
            model, optimizer, len(y), p.batch_size, generator, f"{what} {epoch}/{epochs}", batch_loss
        )
        history.append(math.sqrt(mean_loss) * scale)
    return model.cpu().eval(), {
        "epochs": epochs,
        "train_rmse_noisy_labels": history[-1],
        "train_rmse_by_epoch": history,
    }


@torch.no_grad()
def rescale_head(model: RankCounter, images: torch.Tensor, batch_size: int, device: torch.device) -> None:
    """Scale the head so the mean proxy count over ``images`` is 1 (the scaled mean label)."""
    model.eval()
    mean = torch.cat(
        [proxy_counts(model, images[i : i + batch_size], device) for i in range(0, len(images), batch_size)]
    ).mean()
    if mean > 0:
        model.head.weight /= mean
        model.head.bias /= mean


def strategy_features(
    model: RankCounter,
    counting: list[Path],
    benchmarks: dict[str, list[Path]],
    grids: dict[str, int],
    size: tuple[int, int],
    name: str,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Whole-image features of the counting set and each benchmark's KxK patch features (K from ``grids``)."""
    whole = extract(model, counting, (1,), size, f"{name}: counting set")["k1"][:, 0]
    patches = {bench: extract(model, paths, (grids[bench],), size, f"{name}: {bench}")[f"k{grids[bench]}"]
               for bench, paths in benchmarks.items()}
    return whole, patches


def cached_features(counting_path: Path, features_root: Path, counting_images: list[str],
                    grids: dict[str, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """SYRAC's features as ``extract_features`` cached them, in ``strategy_features``' shape: the
    ablation reads out exactly the features the evaluation counted with, without encoding them again."""
    names, cached = load_features(counting_path)
    row = {name: i for i, name in enumerate(names)}
    whole = cached["features"][[row[name] for name in counting_images]]
    patches = {bench: load_features(features_root / f"{bench}.npz")[1][f"k{k}"] for bench, k in grids.items()}
    return whole, patches
