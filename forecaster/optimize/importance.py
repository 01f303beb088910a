"""Which factors drive harvest titer: two methods, each with bootstrap intervals over batches.

- ``permutation``: the batch model (:class:`~forecaster.optimize.batch_model.TiterModel`) is
  refitted on each bootstrap sample of batches; a factor's importance is the drop in R^2
  on the batches left out of that sample when its values are shuffled among them. A factor
  with no effect scores about 0 (negative by chance), so an interval above 0 is an effect
  the data can tell from none.
- ``pls_vip``: PLS regression of the standardised titer on the standardised factors (the
  number of components chosen by 5-fold cross-validation on all batches); the
  variable importance in projection (VIP, Wold) of each factor, as batch-monitoring suites
  report it. By convention VIP > 1 marks an important factor (the mean VIP^2 is 1); here a
  factor is distinct when its interval's lower end exceeds 1.

Intervals are the 5th and 95th percentiles over ``n_boot`` bootstrap samples of batches
(90 %). Missing factor values are filled with the factor's median over the batches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.optimize.batch_model import TiterModel

METHODS: tuple[str, ...] = ("permutation", "pls_vip")
#: Lowest value of a distinct factor's interval, per method.
DISTINCT_ABOVE = {"permutation": 0.0, "pls_vip": 1.0}
COLUMNS = ["factor", "method", "importance", "ci_lo", "ci_hi", "distinct", "rank"]


def filled(X: pd.DataFrame) -> np.ndarray:
    """(batches, factors) values with each column's missing values set to its median."""
    return X.fillna(X.median()).to_numpy(float)


def permutation_importance(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_boot: int = 100,
    seed: int = 0,
    quadratic: bool | str = "auto",
) -> np.ndarray:
    """Out-of-bag permutation importance of each factor, one row per bootstrap sample.

    Args:
        X: (batches, factors) factor values; y: (batches,) harvest titers.
        n_boot: bootstrap samples of batches.
        seed: seed of the resampling and the shuffles.
        quadratic: the batch model's squared terms (True, False or ``"auto"``: by
            leave-one-out error).

    Returns:
        (n_boot, factors) drop in out-of-bag R^2 when the factor is shuffled.
    """
    rng = np.random.default_rng(seed)
    n, p = X.shape
    out = np.zeros((n_boot, p))
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        oob = np.setdiff1d(np.arange(n), idx)
        if len(oob) < 3 or np.ptp(y[idx]) == 0:
            oob = np.arange(n)
        model = TiterModel(quadratic).fit(X[idx], y[idx])
        base = model.score(X[oob], y[oob])
        for j in range(p):
            Xp = X[oob].copy()
            Xp[:, j] = rng.permutation(Xp[:, j])
            out[b, j] = base - model.score(Xp, y[oob])
    return out


def vip_scores(X: np.ndarray, y: np.ndarray, n_components: int = 2) -> np.ndarray:
    """VIP of each factor from a PLS fit of standardised y on standardised X.

    Args:
        X: (batches, factors); y: (batches,).
        n_components: PLS components (at most factors and batches - 1).

    Returns:
        (factors,) VIP scores; their squares average 1.
    """
    from sklearn.cross_decomposition import PLSRegression

    sd = X.std(0)
    Z = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    yz = (y - y.mean()) / (y.std() or 1.0)
    k = max(1, min(n_components, X.shape[1], X.shape[0] - 1))
    pls = PLSRegression(k, scale=False).fit(Z, yz)
    t, w, q = pls.x_scores_, pls.x_weights_, pls.y_loadings_
    ss = np.sum(t**2, axis=0) * q[0] ** 2  # y variance explained per component
    wn = (w / np.linalg.norm(w, axis=0)) ** 2
    total = ss.sum()
    if total <= 0:
        return np.ones(X.shape[1])
    return np.sqrt(X.shape[1] * (wn @ ss) / total)


def pls_components(X: np.ndarray, y: np.ndarray, max_components: int = 3, seed: int = 0) -> int:
    """PLS components by 5-fold cross-validation: the fewest within 2 % of the lowest error.

    Args:
        X: (batches, factors); y: (batches,).

    Returns:
        Number of components (1 to ``max_components``).
    """
    from sklearn.cross_decomposition import PLSRegression

    n = len(y)
    folds = np.random.default_rng(seed).permutation(n) % min(5, n)
    press = []
    ks = range(1, max(1, min(max_components, X.shape[1], n - n // 5 - 1)) + 1)
    for k in ks:
        err = 0.0
        for f in np.unique(folds):
            tr, te = folds != f, folds == f
            sd = X[tr].std(0)
            sd = np.where(sd > 0, sd, 1.0)
            pls = PLSRegression(k, scale=False).fit((X[tr] - X[tr].mean(0)) / sd, y[tr])
            pred = pls.predict((X[te] - X[tr].mean(0)) / sd).ravel()
            err += float(np.sum((y[te] - pred) ** 2))
        press.append(err)
    best = min(press)
    return next(k for k, e in zip(ks, press) if e <= 1.02 * best)


def bootstrap_vip(
    X: np.ndarray, y: np.ndarray, *, n_boot: int = 100, seed: int = 0, n_components: int = 2
) -> np.ndarray:
    """(n_boot, factors) VIP scores over bootstrap samples of batches."""
    rng = np.random.default_rng(seed)
    n = len(y)
    rows = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        rows.append(vip_scores(X[idx], y[idx], n_components))
    return np.asarray(rows)


def summarise(method: str, names: list[str], draws: np.ndarray, point: np.ndarray) -> pd.DataFrame:
    """One row per factor: importance (``point``), 90 % interval from ``draws``, rank.

    Ranked by importance; ``distinct``: the interval lies above :data:`DISTINCT_ABOVE` (an
    effect these batches can tell from none).
    """
    lo, hi = np.percentile(draws, [5, 95], axis=0)
    df = pd.DataFrame({"factor": names, "method": method, "importance": point,
                       "ci_lo": lo, "ci_hi": hi})  # fmt: skip
    df["distinct"] = df["ci_lo"] > DISTINCT_ABOVE[method]
    df = df.sort_values("importance", ascending=False, kind="stable")
    df["rank"] = np.arange(1, len(df) + 1)
    return df[COLUMNS].reset_index(drop=True)


def rank_factors(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    methods: tuple[str, ...] = METHODS,
    n_boot: int = 100,
    seed: int = 0,
    quadratic: bool | str = "auto",
) -> pd.DataFrame:
    """Importance of every column of ``X`` for ``y`` by each method (finished batches only).

    Args:
        X: (batches, factors) factor values; y: (batches,) harvest titers (NaN: skipped).
        methods: any of :data:`METHODS`.
        n_boot: bootstrap samples per method.
        seed: one seed for every draw.
        quadratic: squares in the permutation method's batch model (True, False, ``"auto"``).

    Returns:
        :data:`COLUMNS`, one row per factor per method, ranked within each method.
    """
    keep = y.notna().to_numpy()
    Xv, yv = filled(X)[keep], y.to_numpy(float)[keep]
    names = list(X.columns)
    parts = []
    for method in methods:
        if method == "permutation":
            draws = permutation_importance(Xv, yv, n_boot=n_boot, seed=seed, quadratic=quadratic)
            point = draws.mean(0)
        elif method == "pls_vip":
            k = pls_components(Xv, yv, seed=seed)
            draws = bootstrap_vip(Xv, yv, n_boot=n_boot, seed=seed, n_components=k)
            point = vip_scores(Xv, yv, k)
        else:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        parts.append(summarise(method, names, draws, point))
    return pd.concat(parts, ignore_index=True)
