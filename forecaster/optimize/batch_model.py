"""A batch-level model of harvest titer: ridge regression on each factor and its square.

Small data (20-100 batches) needs a model with few effective parameters; a main-effect
quadratic keeps a curved effect (an optimum post-shift temperature) and gives the
recommender something smooth to climb. Factors are standardised with the training batches'
mean and spread; the penalty is chosen by leave-one-out error (closed form). Fitted state is plain
values (:meth:`TiterModel.state_dict`).
"""

from __future__ import annotations

import numpy as np

FORMAT_VERSION = 1
#: Ridge penalties tried (on standardised terms).
ALPHAS = np.logspace(-2, 3, 26)


def design(Z: np.ndarray, quadratic: bool = True) -> np.ndarray:
    """Model terms of standardised factors.

    Args:
        Z: (batches, factors) standardised factor values.
        quadratic: add each factor's square (centred at its training mean: ``z**2 - 1``).

    Returns:
        (batches, factors) or (batches, 2 * factors): linear terms, then squares.
    """
    return np.hstack([Z, Z**2 - 1.0]) if quadratic else Z


def _ridge_loo(T: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
    """Ridge with the penalty of least leave-one-out error (closed form through one SVD).

    Args:
        T: (rows, terms) model terms; y: (rows,) response.

    Returns:
        (coef (terms,), intercept, chosen penalty, effective degrees of freedom, its
        leave-one-out mean squared error).
    """
    tm, ym = T.mean(0), y.mean()
    U, s, Vt = np.linalg.svd(T - tm, full_matrices=False)
    uy = U.T @ (y - ym)
    n = len(y)
    best = (np.inf, ALPHAS[0])
    for a in ALPHAS:
        f = s**2 / (s**2 + a)
        fit = U @ (f * uy)
        h = (U**2) @ f + 1.0 / n  # leverage, the intercept included
        loo = np.mean(((y - ym - fit) / np.maximum(1.0 - h, 1e-6)) ** 2)
        if loo < best[0]:
            best = (loo, a)
    a = best[1]
    coef = Vt.T @ (s / (s**2 + a) * uy)
    dof = float(np.sum(s**2 / (s**2 + a)))
    return coef, float(ym - tm @ coef), float(a), dof, float(best[0])


class TiterModel:
    """Ridge regression of harvest titer on factors and (optionally) their squares.

    ``quadratic="auto"`` fits the model with and without the squares and keeps the one with
    the lower leave-one-out error (on 20-40 batches the squares usually cost more in variance
    than they gain); a linear fit is stored with zero coefficients on the squares, so every
    model predicts through the same terms.

    Example:
        >>> m = TiterModel().fit(X, y)          # X: (batches, factors), y: (batches,)
        >>> m.predict(X[:2])                     # (2,) titer, y's unit
    """

    def __init__(self, quadratic: bool | str = "auto") -> None:
        self.quadratic = quadratic
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.alpha_: float = 0.0
        self.resid_sd_: float = 0.0
        self.squares_: bool = False

    def fit(self, X: np.ndarray, y: np.ndarray) -> TiterModel:
        """Fit on (batches, factors) values and (batches,) titers; returns self."""
        X, y = np.asarray(X, float), np.asarray(y, float)
        self.mean_ = X.mean(0)
        sd = X.std(0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = (X - self.mean_) / self.scale_
        T = design(Z, self.quadratic is not False)
        self.coef_, self.intercept_, self.alpha_, dof, loo = _ridge_loo(T, y)
        self.squares_ = self.quadratic is not False
        if self.quadratic == "auto":
            lin = _ridge_loo(Z, y)
            if lin[4] <= loo:
                p = Z.shape[1]
                self.coef_ = np.concatenate([lin[0], np.zeros(p)])
                self.intercept_, self.alpha_, dof = lin[1], lin[2], lin[3]
                self.squares_ = False
        resid = y - T @ self.coef_ - self.intercept_
        self.resid_sd_ = float(np.sqrt(np.sum(resid**2) / max(len(y) - 1 - dof, 1.0)))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(rows,) predicted titer for (rows, factors) values."""
        if self.coef_ is None:
            raise RuntimeError("TiterModel is not fitted; call fit first")
        Z = (np.asarray(X, float) - self.mean_) / self.scale_
        return design(Z, self.quadratic is not False) @ self.coef_ + self.intercept_

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """R^2 on (rows, factors) values and (rows,) titers."""
        y = np.asarray(y, float)
        ss = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - float(np.sum((y - self.predict(X)) ** 2)) / ss if ss > 0 else 0.0

    def state_dict(self) -> dict:
        """Plain values (JSON safe)."""
        return {
            "kind": "titer_model",
            "format_version": FORMAT_VERSION,
            "quadratic": self.quadratic,
            "squares": self.squares_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "alpha": self.alpha_,
            "resid_sd": self.resid_sd_,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> TiterModel:
        """Rebuild from :meth:`state_dict`; refuses another kind or format version."""
        if state.get("kind") != "titer_model" or state.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"not a titer model of format {FORMAT_VERSION}: kind {state.get('kind')!r}, "
                f"format {state.get('format_version')!r}"
            )
        q = state["quadratic"]
        m = cls(q if q == "auto" else bool(q))
        m.squares_ = bool(state["squares"])
        m.mean_ = np.asarray(state["mean"], float)
        m.scale_ = np.asarray(state["scale"], float)
        m.coef_ = np.asarray(state["coef"], float)
        m.intercept_ = float(state["intercept"])
        m.alpha_ = float(state["alpha"])
        m.resid_sd_ = float(state["resid_sd"])
        return m
