"""Ridge regression with an unpenalised intercept: the paper's linear probe."""

import numpy as np

from syrac.method.probe import LinearProbe
from syrac.method.readouts import LinearReadout


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float,
              weights: np.ndarray | None = None) -> LinearProbe:
    """Least squares with an unpenalised bias and a penalty alpha relative to the feature scale;
    ``weights`` (one per image, any scale) weigh each image's squared error."""
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
    gram = xc.T @ xc
    scale = np.trace(gram) / gram.shape[0] or 1.0
    system = gram + alpha * scale * np.eye(gram.shape[0])
    try:
        weight = np.linalg.solve(system, xc.T @ yc)
    except np.linalg.LinAlgError:  # alpha 0 with fewer images than features: the minimum-norm solution
        weight = np.linalg.lstsq(system, xc.T @ yc, rcond=None)[0]
    return LinearProbe(weight.astype(np.float32), float(mean_y - mean_x @ weight))


READOUT = LinearReadout("ridge", "ridge probe", fit_ridge, penalised=True)
