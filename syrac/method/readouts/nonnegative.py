"""Non-negative weights without an intercept: the authors' released probe. A patch with no people
in it reads what its features say, not a constant once per tile."""

import numpy as np
from scipy.optimize import nnls

from syrac.method.probe import LinearProbe
from syrac.method.readouts import LinearReadout


def fit_nonnegative(features: np.ndarray, targets: np.ndarray, _penalty: float = 0.0) -> LinearProbe:
    """Non-negative least squares without an intercept; it takes no penalty."""
    weight = nnls(features.astype(np.float64), targets.astype(np.float64), maxiter=50 * features.shape[1])[0]
    return LinearProbe(weight.astype(np.float32), 0.0)


READOUT = LinearReadout("nonnegative", "non-negative probe without intercept (the authors' code)", fit_nonnegative,
                        penalised=False)
