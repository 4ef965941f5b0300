"""Exact relations between scales, as a label-free training signal for the encoder.

A region holds exactly the people of its four quarters. Seen at the network's input size, the
region's whole view shows them at half the size its quarters' views do, so a counter that keeps

    count(whole view) = sum of count(quarter views)

counts a person the same at every size, and a crowd of small heads at its own number, not at the
half that a counter taught only on large people reads there. Two families of views carry it:

* **zoom-in**: an unlabelled image and its 2x2 cells, each cell enlarged to the input size;
* **zoom-out**: a 2x2 mosaic of four images' whole views, read whole, against the four of them:
  the mosaic holds exactly their people, at half their size.

Neither needs a label, a count or a generator: the relation holds for any photograph. Rank
pre-training adds it to its loss (``pretrain.scale_relations``), on the images whose readings the
probe later trusts: the pairs' training sources and, where declared, the unlabelled photos.

What is related is a *reading*: the rank head's proxy count (``target: head``), or every ReLU
feature at once (``target: features``), which makes any non-negative read-out without an
intercept (the authors' probe) keep the relation too. Readings are compared as the log of their
ratio, so the loss is the same at every count scale and the rank loss keeps its own.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

EPSILON = 1e-3  # keeps the log of a reading of an empty view finite


def whole_views(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Images (N x 3 x 2H x 2W, uint8 or float) at the input size H x W: antialiased, so a small head
    keeps its share of the pixels instead of vanishing between samples."""
    return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)


def quarter_views(images: torch.Tensor) -> torch.Tensor:
    """The 2x2 cells of N x 3 x 2H x 2W images, as 4N x 3 x H x W (each image's four cells together,
    row by row): each cell at full resolution, which is its view enlarged to the input size."""
    n, c, height, width = images.shape
    h, w = height // 2, width // 2
    cells = images[:, :, : 2 * h, : 2 * w].reshape(n, c, 2, h, 2, w).permute(0, 2, 4, 1, 3, 5)
    return cells.reshape(4 * n, c, h, w)


def mosaics(views: torch.Tensor) -> torch.Tensor:
    """Consecutive fours of N x 3 x H x W views laid out 2x2 (row by row): N/4 x 3 x 2H x 2W. The
    inverse of ``quarter_views``."""
    n, c, h, w = views.shape
    groups = views[: n - n % 4].reshape(-1, 2, 2, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return groups.reshape(-1, c, 2 * h, 2 * w)


def log_ratio_loss(whole: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
    """Mean squared log ratio of the whole view's reading to the sum of its four parts' readings.

    ``whole``: N (x D) readings; ``parts``: 4N (x D), each whole's four together. Readings pass
    through softplus (a count is positive; softplus is monotone, so the order the rank loss taught
    is kept); with ``D`` features each feature is a reading of its own."""
    whole = F.softplus(whole.float())
    parts = F.softplus(parts.float()).reshape(whole.shape[0], 4, *whole.shape[1:]).sum(1)
    return (torch.log(whole + EPSILON) - torch.log(parts + EPSILON)).pow(2).mean()


def relation_views(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Every view of one step's relation images (N x 3 x 2H x 2W, float), stacked: their whole views
    (N), their quarters (4N) and the whole views of the mosaics of consecutive fours of the wholes
    (N // 4). The wholes are both the zoom-in relation's left side and the zoom-out relation's parts."""
    wholes = whole_views(images, size)
    return torch.cat([wholes, quarter_views(images.float()), whole_views(mosaics(wholes), size)])


def relation_loss(readings: torch.Tensor, n: int) -> torch.Tensor:
    """Both relations from the readings of ``relation_views`` of ``n`` images (N or N x D each):
    zoom-in (each image against its cells) and zoom-out (each mosaic of four images against them),
    weighted by how many views of the input size each relates."""
    whole, parts, mosaic = readings[:n], readings[n:5 * n], readings[5 * n:]
    zoom_in = log_ratio_loss(whole, parts)
    m = len(mosaic)
    if m == 0:
        return zoom_in
    return (n * zoom_in + m * log_ratio_loss(mosaic, whole[: 4 * m])) / (n + m)
