"""Ridge fitted for relative error: each counting-set image's squared error weighted by 1/max(N, 1),
N its label.

Why: a prompted N is a crowd of about N (``counting.count_cv``), so a label's error grows with N, and
unweighted least squares spends the fit on the densest prompts. Where the counting set reaches dense
crowds (``counting.prompted_counts`` up to thousands) the ridge probe fitted over 0 to 2000 reads
sparse scenes at several times their people (docs/count-scale.md, lever 1). Weighting each image by
the inverse of its label (a count's Poisson variance) spreads the fit's attention across the range,
so the sparse end keeps the unit the few-people prompts show; the labels alone set the weights, no
count label of a benchmark is read. Cross-validation scores a penalty by the same weighted error.
"""

import numpy as np

from syrac.method.readouts import LinearReadout
from syrac.method.readouts.ridge import fit_ridge


def label_weights(targets: np.ndarray) -> np.ndarray:
    """1/max(N, 1) per image: empty scenes (N = 0) weigh as much as one person."""
    return 1.0 / np.maximum(targets.astype(np.float64), 1.0)


def fit_relative(features: np.ndarray, targets: np.ndarray, alpha: float):
    return fit_ridge(features, targets, alpha, weights=label_weights(targets))


READOUT = LinearReadout("relative", "ridge probe for relative error (each label N weighted 1/N)", fit_relative,
                        penalised=True, error_weights=label_weights)
