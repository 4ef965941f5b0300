"""Ridge regression with an unpenalised intercept: the paper's linear probe."""

from dataclasses import dataclass

import numpy as np

from syrac.method.probe import LinearProbe
from syrac.method.readouts import LinearReadout


@dataclass(frozen=True)
class Anchors:
    """Counts known as differences: ``differences`` (N x D) of two images' features, each of which should
    read ``removed`` (N) more than the other, whatever the bias. ``weight``: their squared errors' total
    weight against the fitted images' (1: as much as all of them together)."""
    differences: np.ndarray
    removed: np.ndarray
    weight: float


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float,
              weights: np.ndarray | None = None, anchors: Anchors | None = None) -> LinearProbe:
    """Least squares with an unpenalised bias and a penalty alpha relative to the feature scale;
    ``weights`` (one per image, any scale) weigh each image's squared error; ``anchors`` add rows that
    hold a difference of readings to a count, where the bias cancels."""
    x = features.astype(np.float64)
    if weights is None:  # the arithmetic of the probes fitted before weights existed, so their bytes hold
        # (equal weights through the branch below give the same probe up to rounding, not to the bit)
        mean_x, mean_y = x.mean(0), float(targets.mean())
        xc, yc = x - mean_x, targets - mean_y
    else:  # weighted means, and each centred row scaled by the root of its weight (mean weight 1)
        share = weights / weights.sum()
        mean_x, mean_y = share @ x, float(share @ targets)
        root = np.sqrt(share * len(targets))
        xc, yc = (x - mean_x) * root[:, None], (targets - mean_y) * root
    gram, moment = xc.T @ xc, xc.T @ yc
    scale = np.trace(gram) / gram.shape[0] or 1.0
    if anchors is not None:  # after the penalty's scale, so alpha means what it means without them
        each = anchors.weight * len(targets) / len(anchors.removed)
        gram = gram + each * anchors.differences.T @ anchors.differences
        moment = moment + each * anchors.differences.T @ anchors.removed
    system = gram + alpha * scale * np.eye(gram.shape[0])
    try:
        weight = np.linalg.solve(system, moment)
    except np.linalg.LinAlgError:  # alpha 0 with fewer images than features: the minimum-norm solution
        weight = np.linalg.lstsq(system, moment, rcond=None)[0]
    return LinearProbe(weight.astype(np.float32), float(mean_y - mean_x @ weight))


READOUT = LinearReadout("ridge", "ridge probe", fit_ridge, penalised=True)
