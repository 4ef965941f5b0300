"""Training augmentations, drawn for each image on its own: a source and its edit never share a draw.

``paper``: the paper's horizontal flips and brightness jitter. ``authors``: the set of the authors'
released (TensorFlow) code on top of them: zoom-out with black fill, blur, colour, contrast and pixel
noise, at their published strengths (``AUTHORS``), not tuned here. Every draw but the pixel noise
comes from a CPU generator whatever the images' device; the noise comes from a generator on the
images' device seeded from it, so a seed repeats its images on a device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class AuthorsSet:
    """The authors' strengths; their brightness jitter is the params' own (``pretrain.brightness``)."""

    zoom_out: float = 0.3  # each side shrunk by up to this share, the image placed at random on black
    blur_sigma: float = 0.5
    blur_probability: float = 0.5
    hue: float = 0.075  # colour: hue rotated by up to this share of the colour circle
    contrast: float = 0.3  # factor in [1 - c, 1 + c] about each channel's mean
    noise: float = 0.05  # uniform noise in [-n, n] on every pixel


AUTHORS = AuthorsSet()

# RGB to YIQ: a hue rotation is a rotation of the (I, Q) chroma plane that keeps luma Y.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def zoom_out(x: torch.Tensor, most: float, generator: torch.Generator) -> torch.Tensor:
    """Each image shrunk by a side factor in [1 - most, 1] and placed at random on a black canvas.

    A shrunk image holds the same people, so the weak label of a pair is untouched."""
    n = x.shape[0]
    scale = _uniform(n, 1 - most, 1, generator)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (1 / scale - 1).unsqueeze(1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def blur(x: torch.Tensor, sigma: float, probability: float, generator: torch.Generator) -> torch.Tensor:
    """A 3x3 Gaussian blur of ``sigma`` on a random ``probability`` share of the images.

    Only the chosen images are convolved; their indices are found on the CPU, so a GPU never waits."""
    chosen = (torch.rand(x.shape[0], generator=generator) < probability).nonzero().squeeze(1).to(x.device)
    taps = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / (2 * sigma**2))
    kernel = torch.outer(taps, taps) / taps.sum() ** 2
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, 3, 3).to(x.device, x.dtype)
    blurred = F.conv2d(F.pad(x[chosen], (1, 1, 1, 1), mode="replicate"), weight, groups=channels)
    return x.index_copy(0, chosen, blurred)


def rotate_hue(x: torch.Tensor, most: float, generator: torch.Generator) -> torch.Tensor:
    """Hue rotated by up to ``most`` of the circle, luma kept (a rotation in YIQ space)."""
    angle = _uniform(x.shape[0], -most, most, generator) * 2 * math.pi
    rotation = torch.zeros(len(angle), 3, 3)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1] = rotation[:, 2, 2] = torch.cos(angle)
    rotation[:, 1, 2], rotation[:, 2, 1] = -torch.sin(angle), torch.sin(angle)
    matrix = torch.linalg.inv(_YIQ) @ rotation @ _YIQ
    return torch.einsum("nij,njhw->nihw", matrix.to(x.device, x.dtype), x)


def jitter_contrast(x: torch.Tensor, most: float, generator: torch.Generator) -> torch.Tensor:
    """Each channel scaled about its mean by a factor in [1 - most, 1 + most] (TensorFlow's contrast)."""
    factor = _uniform(x.shape[0], 1 - most, 1 + most, generator).to(x.device).view(-1, 1, 1, 1)
    mean = x.mean((2, 3), keepdim=True)
    return (x - mean) * factor + mean


def authors_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The authors' set after flips and brightness, on [0, 1] images; clipped back to [0, 1]."""
    strengths = AUTHORS
    x = zoom_out(x, strengths.zoom_out, generator)
    x = blur(x, strengths.blur_sigma, strengths.blur_probability, generator)
    x = rotate_hue(x, strengths.hue, generator)
    x = jitter_contrast(x, strengths.contrast, generator)
    # A full image of noise per image is too much to draw on the CPU and copy over for a GPU batch, so
    # it comes from a generator on the images' device, seeded from the CPU one.
    on_device = torch.Generator(x.device).manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
    noise = (torch.rand(x.shape, generator=on_device, device=x.device, dtype=x.dtype) * 2 - 1) * strengths.noise
    return (x + noise).clamp(0, 1)


def augment(images: torch.Tensor, brightness: float, flip: bool, generator: torch.Generator,
            augmentations: str = "paper") -> torch.Tensor:
    """uint8 images to [0, 1]: random horizontal flips and brightness factors in [1 - b, 1 + b], then
    with ``augmentations="authors"`` the authors' set."""
    x = images.float() / 255.0
    n = x.shape[0]
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(flipped.view(n, 1, 1, 1), x.flip(-1), x)
    if brightness > 0:
        factor = (1.0 + (torch.rand(n, generator=generator) * 2 - 1) * brightness).to(x.device)
        x = (x * factor.view(n, 1, 1, 1)).clamp(0, 1)
    if augmentations == "authors":
        x = authors_augment(x, generator)
    return x
