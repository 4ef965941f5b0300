"""What training saw, kept in the counter file so that `syrac count` can say when an image lies outside it.

A counter counts whatever it is shown: random noise comes out as thousands of people. Two
label-free tests, each against the images rank pre-training saw (simulated scenes and their edits,
and the unlabelled photos' crops where declared), hold an image against that experience:

- **Features**: the Mahalanobis distance of each counted patch's features from the training images'
  (Ledoit-Wolf covariance: the shrinkage is estimated from the data, not chosen). The limit is the
  farthest of a held-out fifth of the training images, so nothing is tuned; an image is out of range
  when the median patch lies beyond it (one odd patch, a stretch of sky, does not condemn a photo).
- **Pixels**: grey-level entropy (bits) and mean absolute grey-level step between neighbouring pixels,
  of the whole image at the network's input size. Blank frames have neither, and drawn patterns
  (stripes, checkerboards, ramps) have few grey levels or no texture; both lie outside the range the
  training images span, which the features alone do not see (a blank frame's features are those of an
  empty scene, a count of zero). The limits are the training images' own minimum and maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

HELD_OUT_SHARE = 0.2  # training images kept out of the fit to set the distance limit
GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 luma
# What each pixel statistic is called, and what an image below or above the training range likely is.
PIXEL_TESTS = (("grey-level entropy", "bits", "blank or drawn?", "noise?"),
               ("texture", "grey levels per pixel", "blank or a smooth drawing?", "noise?"))


def pixel_statistics(images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """N x H x W x 3 uint8 -> N x 2: grey-level entropy in bits, and mean absolute step between
    neighbouring pixels (grey levels), a few hundred images at a time."""
    stats = np.empty((len(images), 2))
    for start in range(0, len(images), chunk):
        grey = images[start:start + chunk].astype(np.float32) @ GREY_WEIGHTS
        for i, image in enumerate(np.clip(np.rint(grey), 0, 255).astype(np.int64), start):
            share = np.bincount(image.ravel(), minlength=256) / image.size
            share = share[share > 0]
            stats[i, 0] = float(-(share * np.log2(share)).sum()) + 0.0  # + 0.0: no -0.0 for a blank frame
        steps = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2)) + np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2))
        stats[start:start + chunk, 1] = steps / 2
    return stats


@dataclass(frozen=True)
class Envelope:
    mean: np.ndarray  # D: training images' mean feature
    precision: np.ndarray  # D x D: inverse of their shrunk covariance
    max_distance: float  # farthest held-out training image
    pixel_low: np.ndarray  # (entropy, step): the training images' minimum
    pixel_high: np.ndarray  # and maximum

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each feature vector (any leading shape x D)."""
        centred = features.astype(np.float64) - self.mean
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", centred, self.precision, centred), 0.0))

    def reason_out_of_range(self, image: np.ndarray, patch_features: np.ndarray) -> str | None:
        """Why an image (H x W x 3 uint8 at the network's input size) and the features of its counted
        patches (P x D) lie outside what training saw, or None when they do not."""
        measured = pixel_statistics(image[None])[0]
        for (name, unit, too_low, too_high), value, low, high in zip(PIXEL_TESTS, measured, self.pixel_low,
                                                                     self.pixel_high):
            if not low <= value <= high:
                return (f"{name} {value:.2f} {unit}, outside the training images' {low:.2f}-{high:.2f} "
                        f"({too_low if value < low else too_high})")
        distance = float(np.median(self.distances(patch_features)))
        if distance > self.max_distance:
            return (f"features {distance:.1f} from the training images' mean, beyond the farthest held-out "
                    f"training image ({self.max_distance:.1f}): unlike anything the counter was trained on")
        return None

    def to_bundle(self) -> dict:
        """Tensors and numbers that ``torch.load(weights_only=True)`` reads back."""
        return {"mean": torch.from_numpy(self.mean), "precision": torch.from_numpy(self.precision),
                "max_distance": self.max_distance, "pixel_low": torch.from_numpy(self.pixel_low),
                "pixel_high": torch.from_numpy(self.pixel_high)}

    @classmethod
    def from_bundle(cls, bundle: dict) -> "Envelope":
        return cls(bundle["mean"].numpy(), bundle["precision"].numpy(), float(bundle["max_distance"]),
                   bundle["pixel_low"].numpy(), bundle["pixel_high"].numpy())

    def summary(self) -> dict:
        """The limits, for the metrics."""
        return {"max_distance": round(self.max_distance, 3),
                "entropy_bits": [round(float(v), 3) for v in (self.pixel_low[0], self.pixel_high[0])],
                "texture": [round(float(v), 3) for v in (self.pixel_low[1], self.pixel_high[1])]}


def fit_envelope(features: np.ndarray, images: np.ndarray, seed: int) -> Envelope:
    """The envelope of training images' features (N x D) and pixels (N x H x W x 3 uint8)."""
    order = np.random.default_rng(seed).permutation(len(features))
    held = max(1, int(round(HELD_OUT_SHARE * len(features))))
    fitted = LedoitWolf().fit(features[order[held:]].astype(np.float64))
    stats = pixel_statistics(images)
    unlimited = Envelope(fitted.location_, fitted.precision_, np.inf, stats.min(axis=0), stats.max(axis=0))
    return replace(unlimited, max_distance=float(unlimited.distances(features[order[:held]]).max()))
