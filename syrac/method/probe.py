"""The linear probe: frozen features -> count, and what it is fitted on.

A probe is a weight per feature and a bias, fitted on the noisy counting set by one of the linear
read-outs of ``syrac.method.readouts`` (params ``probe.form``: ridge, whose penalty k-fold
cross-validation chooses on the noisy labels themselves, since no benchmark label is ever looked at;
or the authors' non-negative one). The labels are the prompted counts, or (``probe.labels:
rank_refined``) the same re-ordered within each prompt by the rank head, a reviewer's suggestion
(docs/review.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class LinearProbe:
    weight: np.ndarray  # D
    bias: float

    def patch_counts(self, features: np.ndarray) -> np.ndarray:
        """Counts of patches (any leading shape x D), floored at zero: a patch holds >= 0 people."""
        return np.maximum(features @ self.weight + self.bias, 0.0)

    def image_counts(self, patch_features: np.ndarray) -> np.ndarray:
        """N x K*K x D patch features -> N image counts (sum over the grid)."""
        return self.patch_counts(patch_features).sum(axis=1)


def _unclamped(probe: LinearProbe, features: np.ndarray) -> np.ndarray:
    return features @ probe.weight + probe.bias


def cross_validate(features: np.ndarray, targets: np.ndarray, grid, folds: int, seed: int, fit,
                   predict=_unclamped, weights: np.ndarray | None = None) -> dict[float, float]:
    """Root mean squared error of each penalty on held-out folds of the noisy labels (for any
    read-out: ``fit(features, targets, penalty)`` and ``predict(model, features)``), each image's
    squared error weighted by ``weights`` where given (a weighted mean)."""
    fold_of = np.random.default_rng(seed).permutation(len(targets)) % folds
    errors = {}
    for alpha in grid:
        squared = np.zeros(len(targets))
        for fold in range(folds):
            held = fold_of == fold
            probe = fit(features[~held], targets[~held], alpha)
            squared[held] = (predict(probe, features[held]) - targets[held]) ** 2
        mean = squared.mean() if weights is None else np.average(squared, weights=weights)
        errors[float(alpha)] = float(np.sqrt(mean))
    return errors


def refine_labels(prompted: np.ndarray, proxy: np.ndarray, cv: float) -> np.ndarray:
    """Within each prompted count N > 0, the images ordered by proxy count receive the quantiles of
    a log-normal of mean N and coefficient of variation ``cv``: the lowest proxy the
    smallest count. The mean label of every prompt stays N; N = 0 stays 0."""
    refined = prompted.astype(np.float64).copy()
    sigma = math.sqrt(math.log1p(cv**2))
    for n in np.unique(prompted):
        members = np.flatnonzero(prompted == n)
        if n <= 0 or len(members) < 2:
            continue
        z = norm.ppf((np.arange(len(members)) + 0.5) / len(members))
        spread = np.exp(sigma * z)
        refined[members[np.argsort(proxy[members], kind="stable")]] = n * spread / spread.mean()
    return refined


def rank_head_weights(state: dict) -> tuple[np.ndarray, float]:
    """The rank head's weight and bias from a network's state dict (a live model's, or the
    ``state_dict`` of a saved rank model or counter, without building the network)."""
    return state["head.weight"].detach().float().cpu().numpy()[0], float(state["head.bias"])


def probe_targets(settings, prompted: np.ndarray, proxy: np.ndarray) -> np.ndarray:
    """What the probe is fitted on (params ``probe.labels``): the prompted counts, or the same
    re-ordered within each prompt by the rank head's proxy counts ``proxy`` (no label is read)."""
    return refine_labels(prompted, proxy, settings.refined_label_cv) if settings.labels == "rank_refined" else prompted
