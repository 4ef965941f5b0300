"""Label-free ways to fit the encoder to unlabelled crowd images around rank pre-training.

Two levers, each behind a parameter of ``pretrain`` (docs/real-history.md has their figures):

* ``self_supervised_epochs``: a stand-in for ImageNet initialisation that needs no download and no
  label. Before rank pre-training, the encoder learns to tell which of four right-angle rotations
  a square crop of an unlabelled image was given (Gidaris et al. 2018), the pretext task of
  CSS-CCNN, a peer of SYRAC's Table 1 that learns its encoder from unlabelled crowd images.
* ``adapt_bn``: AdaBN (Li et al. 2016). After rank pre-training, every batch-norm layer's running
  statistics are recomputed on the unlabelled photos, so the counter normalises real photos'
  activations by real-photo statistics rather than by those of the simulator's pairs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from syrac.method.model import RankCounter, normalise, train_epoch

ROTATIONS = 4  # 0, 90, 180 and 270 degrees


def _square_crops(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random square crop of each image (side: its shorter side), so that every rotation keeps
    the shape and a batch can mix them."""
    height, width = images.shape[-2:]
    side = min(height, width)
    tops = torch.randint(0, height - side + 1, (len(images),), generator=generator)
    lefts = torch.randint(0, width - side + 1, (len(images),), generator=generator)
    return torch.stack([image[:, top:top + side, left:left + side]
                        for image, top, left in zip(images, tops.tolist(), lefts.tolist())])


def rotation_pretext(model: RankCounter, images: torch.Tensor, epochs: int, batch_size: int, lr: float,
                     generator: torch.Generator) -> list[dict[str, float]]:
    """Train ``model.encoder`` in place to predict the rotation of square crops of ``images``
    (N x 3 x H x W uint8), through a 4-way linear layer that is thrown away afterwards; returns each
    epoch's mean loss and rotation accuracy (chance: 0.25)."""
    device = next(model.parameters()).device
    classifier = nn.Linear(model.feature_dim, ROTATIONS).to(device)
    optimizer = torch.optim.Adam([*model.encoder.parameters(), *classifier.parameters()], lr=lr)

    def batch_loss(batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        crops = _square_crops(images[batch], generator)
        turns = torch.randint(0, ROTATIONS, (len(crops),), generator=generator)
        rotated = torch.stack([torch.rot90(crop, int(turn), dims=(1, 2)) for crop, turn in zip(crops, turns)])
        with model.autocast():
            logits = classifier(model.features(normalise(rotated.to(device)))).float()
        return F.cross_entropy(logits, turns.to(device)), int((logits.argmax(1).cpu() == turns).sum())

    history = []
    for epoch in range(1, epochs + 1):
        loss, accuracy = train_epoch(model, optimizer, len(images), batch_size, generator,
                                     f"rotation pretext {epoch}/{epochs}", batch_loss)
        history.append({"rotation_loss": loss, "rotation_accuracy": accuracy})
    return history


@torch.no_grad()
def adapt_batch_norm(model: RankCounter, images: torch.Tensor, batch_size: int) -> None:
    """Replace the running mean and variance of every batch-norm layer of ``model`` by their
    average over ``images`` (N x 3 x H x W uint8), in order; weights are untouched."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over every batch, not an exponential one
    device = next(model.parameters()).device
    model.train()
    with model.autocast():
        for start in range(0, len(images), batch_size):
            model.features(normalise(images[start:start + batch_size].to(device)))
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.eval()
