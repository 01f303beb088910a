"""RandomForest baseline importances, mapped back to the sequence model's variables.

- Impurity importance: the forest's mean decrease in impurity per engineered feature
  (computed on training data, biased towards high-cardinality features), summed over the
  features of each variable.
- Permutation importance on test prefixes: all engineered features of one variable are
  shuffled *together* across prefixes (one row permutation), so a variable is scored as a
  whole rather than feature by feature; the score is the increase in mean squared error.

Both are returned as shares (non-negative, summing to 1) per canonical variable, the same
scale as the sequence model's attribution shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data import targets as T


class RFModel(Protocol):
    """What is needed from the RF baseline (``forecaster.models.baseline.RFBaseline``);
    its ``product`` and ``feed`` column names are read when present (CHO names else)."""

    models: dict
    feature_names: list[str]
    feature_variables: list[str]

    def features(self, prefixes: list[pd.DataFrame]) -> np.ndarray: ...

    def predict_matrix(self, target: str, X: np.ndarray) -> np.ndarray: ...


def map_to_variables(values: np.ndarray, feature_variables: Sequence[str]) -> pd.Series:
    """Sum per-feature ``values (P,)`` over the features of each variable -> (V,)."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(feature_variables),):
        raise ValueError(f"got {values.shape} importances for {len(feature_variables)} features")
    return pd.Series(values, index=list(feature_variables)).groupby(level=0, sort=False).sum()


def to_shares(s: pd.Series) -> pd.Series:
    """Clip at 0 and divide by the total (all 0 stays all 0); sorted largest first."""
    s = s.clip(lower=0.0)
    tot = s.sum()
    s = s / tot if tot > 0 else s * 0.0
    return s.sort_values(ascending=False, kind="stable").rename("share")


def rf_impurity_importance(rf: RFModel, target: str) -> pd.Series:
    """(V,) impurity-importance shares of ``rf.models[target]`` per variable."""
    model = rf.models[target]
    return to_shares(map_to_variables(model.feature_importances_, rf.feature_variables))


def rf_design(
    rf: RFModel,
    batches: Sequence[pd.DataFrame],
    target: str,
    origins_h: Sequence[float],
    product: str | None = None,
    feed: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of the prefixes ending at ``origins_h`` of each batch.

    Args:
        product, feed: the process's product and feed columns (default: the model's
            ``product``/``feed``, else the CHO ``titer_mg_L``/``feed_rate_mL_h``).

    Returns:
        ``X (N, P)`` and ``y (N,)`` (next feed rate, or the product at harvest of the
        complete batch, in the table's units); prefixes whose target is unknown are dropped.
    """
    product = product or getattr(rf, "product", None) or schema.TITER
    feed = feed or getattr(rf, "feed", None) or schema.FEED
    prefixes, ys = [], []
    for rows in batches:
        rows = rows.sort_values(schema.TIME).reset_index(drop=True)
        t = rows[schema.TIME].to_numpy(dtype=float)
        nxt = T.next_feed(rows, feed) if target == "feed" else None
        harvest = T.harvest_titer(rows, product) if target == "titer" else None
        for o in sorted(origins_h):
            if o > t[-1] + 1e-6:
                continue
            n = int(np.searchsorted(t, o + 1e-6, side="right"))
            if n == 0:
                continue
            y = nxt[n - 1] if nxt is not None else harvest
            if np.isfinite(y):
                prefixes.append(rows.iloc[:n])
                ys.append(float(y))
    if not prefixes:
        raise ValueError(
            f"no test prefix with a known {target!r} target at origins {list(origins_h)} h"
        )
    return np.asarray(rf.features(prefixes), dtype=float), np.asarray(ys)


def rf_permutation_importance(
    rf: RFModel, target: str, X: np.ndarray, y: np.ndarray, n_repeats: int = 5, seed: int = 0
) -> pd.Series:
    """(V,) shares of the MSE increase when each variable's features are shuffled together.

    Args:
        rf: fitted baseline.
        target: ``feed`` or ``titer``.
        X: (N, P) engineered features of test prefixes; y: (N,) targets.
        n_repeats: shuffles per variable (averaged).
        seed: seed of the shuffles.
    """
    rng = np.random.default_rng(seed)
    fv = list(rf.feature_variables)
    base = float(np.mean((rf.predict_matrix(target, X) - y) ** 2))
    out = {}
    for v in dict.fromkeys(fv):
        cols = [j for j, name in enumerate(fv) if name == v]
        incs = []
        for _ in range(n_repeats):
            Xp = X.copy()
            Xp[:, cols] = X[rng.permutation(len(X))][:, cols]
            incs.append(float(np.mean((rf.predict_matrix(target, Xp) - y) ** 2)) - base)
        out[v] = float(np.mean(incs))
    return to_shares(pd.Series(out))
