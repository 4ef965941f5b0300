"""The linear read-outs of frozen features: the ways to fit a probe on the noisy counting set.

Each is one module of this package defining ``READOUT``: its name (what ``probe.form`` says), a line
that describes it in the generated tables, and ``fit(features, targets, penalty) -> LinearProbe``.
The registry finds every module here, so a new linear read-out is one new file: the pre-flight check
accepts its name in ``probe.form``, the probe stage fits it, and stage ``review_probes`` reads it
beside the others on every benchmark. What the probe is fitted on (the prompted counts or the
rank-refined ones) is ``syrac.method.probe``'s concern, the same for every read-out.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from syrac.method.probe import LinearProbe, cross_validate

DEFAULT = "ridge"  # params' probe.form when unset (syrac.config.Probe); listed first in every table


@dataclass(frozen=True)
class LinearReadout:
    name: str
    description: str  # a table row's label, e.g. "ridge probe"
    fit: Callable[[np.ndarray, np.ndarray, float], LinearProbe]
    penalised: bool  # whether cross-validation on the noisy labels chooses a penalty from probe.ridge_grid
    error_weights: Callable[[np.ndarray], np.ndarray] | None = None  # per-image weights of the held-out error,
    # from the labels (a read-out fitted for a weighted error is scored by it); None: every image alike


def _discover() -> dict[str, LinearReadout]:
    found = [importlib.import_module(f"{__name__}.{module.name}").READOUT for module in pkgutil.iter_modules(__path__)]
    return {r.name: r for r in sorted(found, key=lambda r: (r.name != DEFAULT, r.name))}


READOUTS = _discover()


def fit_probe(features: np.ndarray, targets: np.ndarray, grid, folds: int, seed: int,
              form: str = DEFAULT) -> tuple[LinearProbe, dict]:
    """The probe of read-out ``form``; a penalty chosen from ``grid`` by cross-validation on the noisy
    labels where the read-out takes one (otherwise its cross-validated error is reported alone)."""
    readout = READOUTS[form]
    weights = None if readout.error_weights is None else readout.error_weights(targets)
    errors = cross_validate(features, targets, grid if readout.penalised else (0.0,), folds, seed, fit=readout.fit,
                            weights=weights)
    alpha = min(errors, key=errors.get)
    return readout.fit(features, targets, alpha), {"form": form, "alpha": alpha, "cv_rmse_noisy_labels": errors[alpha],
                                                   "cv_rmse_by_alpha": {str(a): e for a, e in errors.items()}}


def problems(form: str) -> list[str]:
    """What is wrong with ``probe.form`` (``syrac.tools.check``): a name no module here defines."""
    return [] if form in READOUTS else [f"probe.form: {form!r} is no read-out; one of {', '.join(READOUTS)} "
                                        f"(each a module of syrac/method/readouts/)"]
