"""Partial dependence: the predicted harvest titer as one factor moves over its range.

For each grid value the factor is set to that value in every batch and the ensemble's
predictions are averaged over the batches (Friedman's partial dependence); the band is the
10th-90th percentile over the ensemble's bootstrap models (the model's uncertainty, not the
batch-to-batch scatter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PD_COLUMNS = ["factor", "value", "titer", "titer_lo", "titer_hi"]


def partial_dependence(
    ensemble, X: np.ndarray, names: list[str], factors: list[str], n_grid: int = 15
) -> pd.DataFrame:
    """Partial-dependence curves of ``factors``.

    Args:
        ensemble: fitted :class:`~forecaster.optimize.recommend.TiterEnsemble` (or any object
            with ``draws(X) -> (models, rows)``) over the columns ``names``.
        X: (batches, len(names)) factor values the curves average over.
        names: the columns of ``X``.
        factors: the factors to vary, each one of ``names``.
        n_grid: grid points between the factor's 5th and 95th percentile.

    Returns:
        :data:`PD_COLUMNS`, ``n_grid`` rows per factor (titer in the product's unit).
    """
    rows = []
    for f in factors:
        j = names.index(f)
        grid = np.unique(np.quantile(X[:, j], np.linspace(0.05, 0.95, n_grid)))
        for v in grid:
            Xv = X.copy()
            Xv[:, j] = v
            per_model = ensemble.draws(Xv).mean(axis=1)  # (models,)
            lo, hi = np.percentile(per_model, [10, 90])
            rows.append((f, float(v), float(per_model.mean()), float(lo), float(hi)))
    return pd.DataFrame(rows, columns=PD_COLUMNS)
