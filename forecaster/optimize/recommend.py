"""Recipe recommendation: the controllable factor values, within bounds, that maximise titer.

A bootstrap ensemble of batch models (:class:`~forecaster.optimize.batch_model.TiterModel`,
fitted on the recipe and start factors of the finished batches) predicts the harvest titer
of a recipe; the ensemble's mean is the expected titer and its spread the uncertainty of
the model. Optuna's TPE sampler searches the controllable factors within the bounds (by
default the range the batches cover: the model is not trusted outside it); the other
factors stay at the current recipe's values. ``objective="lower"`` maximises a lower
quantile of the ensemble instead (risk-averse). The interval of a prediction adds the
batch-to-batch scatter the model does not explain (its residual spread) to the ensemble's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster.data.errors import DataError
from forecaster.optimize.batch_model import TiterModel
from forecaster.optimize.factors import BatchFactors
from forecaster.optimize.importance import filled

#: z of the two-sided 80 % interval (the forecasts' p10-p90).
Z80 = 1.2816
RECIPE_COLUMNS = ["factor", "label", "unit", "current", "recommended", "lower_bound",
                  "upper_bound"]  # fmt: skip


@dataclass
class Prediction:
    """Predicted harvest titer of one recipe (product unit): mean and 80 % interval."""

    mean: float
    lo: float
    hi: float


@dataclass
class Recommendation:
    """A recommended recipe against the current one.

    Attributes:
        recipe: :data:`RECIPE_COLUMNS`, one row per controllable factor.
        current, recommended: predicted harvest titer of each.
        objective: ``mean`` or ``lower`` (quantile ``quantile`` of the ensemble).
        next_batches: (k, controllable) further recipes worth running (exploration), or empty.
        seconds: wall time of the search.
    """

    recipe: pd.DataFrame
    current: Prediction
    recommended: Prediction
    objective: str
    quantile: float
    n_trials: int
    next_batches: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0


class TiterEnsemble:
    """Bootstrap ensemble of batch models over the given factors.

    Example:
        >>> ens = TiterEnsemble(n_models=50).fit(X, y)     # X: (batches, factors)
        >>> ens.draws(X[:3]).shape                          # (50, 3)
    """

    def __init__(self, n_models: int = 50, seed: int = 0, quadratic: bool | str = "auto") -> None:
        self.n_models, self.seed, self.quadratic = n_models, seed, quadratic
        self.models: list[TiterModel] = []
        self.resid_sd_ = 0.0

    def fit(self, X: np.ndarray, y: np.ndarray) -> TiterEnsemble:
        """Fit one model per bootstrap sample of the (batches,) rows; returns self."""
        rng = np.random.default_rng(self.seed)
        n = len(y)
        full = TiterModel(self.quadratic).fit(X, y)
        self.resid_sd_ = full.resid_sd_
        self.models = [full]
        for _ in range(self.n_models - 1):
            idx = rng.integers(0, n, n)
            self.models.append(TiterModel(self.quadratic).fit(X[idx], y[idx]))
        self._mean = np.stack([m.mean_ for m in self.models])
        self._scale = np.stack([m.scale_ for m in self.models])
        self._coef = np.stack([m.coef_ for m in self.models])
        self._intercept = np.array([m.intercept_ for m in self.models])
        return self

    def draws(self, X: np.ndarray) -> np.ndarray:
        """(models, rows) predicted titers."""
        X = np.asarray(X, float)
        Z = (X[None] - self._mean[:, None]) / self._scale[:, None]  # (models, rows, factors)
        T = np.concatenate([Z, Z**2 - 1.0], axis=2) if self.quadratic is not False else Z
        return np.einsum("mrt,mt->mr", T, self._coef) + self._intercept[:, None]

    def predict(self, x: np.ndarray) -> Prediction:
        """Mean and 80 % interval for one (factors,) recipe."""
        d = self.draws(np.atleast_2d(x))[:, 0]
        half = Z80 * float(np.sqrt(d.var() + self.resid_sd_**2))
        return Prediction(float(d.mean()), float(d.mean() - half), float(d.mean() + half))


def recommend(
    bf: BatchFactors,
    *,
    controllable: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    current: Mapping[str, float] | None = None,
    objective: str = "mean",
    quantile: float = 0.1,
    n_trials: int = 100,
    n_models: int = 40,
    n_next: int = 0,
    seed: int = 0,
) -> Recommendation:
    """The controllable factor values within bounds that maximise predicted harvest titer.

    Args:
        bf: factors of the batches (finished ones are used).
        controllable: factors to choose (default: every recipe factor).
        bounds: factor -> (lower, upper) in its unit (default: the batches' range).
        current: factor -> current recipe value (default: the batches' median).
        objective: ``mean`` (expected titer) or ``lower`` (the ensemble's ``quantile``).
        quantile: quantile maximised by ``objective="lower"``.
        n_trials: TPE trials.
        n_models: bootstrap models in the ensemble.
        n_next: also suggest this many distinct recipes worth running next (optimistic:
            the ensemble's ``1 - quantile`` quantile, spread apart).
        seed: seed of the ensemble and the sampler.

    Returns:
        :class:`Recommendation`.

    Raises:
        DataError: too few finished batches, an unknown factor, bounds that are empty.
    """
    import optuna

    t0 = time.perf_counter()
    if objective not in ("mean", "lower"):
        raise DataError(f"objective {objective!r}", expected="mean or lower")
    names = bf.names("recipe", "start")
    done = bf.finished.to_numpy()
    if done.sum() < 5:
        raise DataError(f"{int(done.sum())} finished batches; a recommendation needs at least 5")
    controllable = list(controllable or bf.names("recipe"))
    for name in [*controllable, *(bounds or {}), *(current or {})]:
        if name not in names:
            raise DataError(f"unknown or unusable factor {name!r}", expected=", ".join(names))
    X = filled(bf.X[names])[done]
    y = bf.y.to_numpy(float)[done]
    ens = TiterEnsemble(n_models, seed).fit(X, y)
    x0 = np.array([float((current or {}).get(n, np.median(X[:, i]))) for i, n in enumerate(names)])
    box = {n: tuple(map(float, (bounds or {}).get(n, (X[:, names.index(n)].min(),
                                                       X[:, names.index(n)].max()))))
           for n in controllable}  # fmt: skip
    for n, (lo, hi) in box.items():
        if not lo <= hi:
            raise DataError(f"bounds of {n!r}: lower {lo:g} is above upper {hi:g}")
    cols = [names.index(n) for n in controllable]

    def score(x: np.ndarray, q: float | None) -> float:
        d = ens.draws(x[None, :])[:, 0]
        return float(d.mean() if q is None else np.quantile(d, q))

    def run(q: float | None) -> optuna.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))  # fmt: skip
        study.enqueue_trial({n: float(np.clip(x0[c], *box[n])) for n, c in zip(controllable, cols)})

        def f(trial: optuna.Trial) -> float:
            x = x0.copy()
            for n, c in zip(controllable, cols):
                lo, hi = box[n]
                x[c] = trial.suggest_float(n, lo, hi) if hi > lo else lo
            return score(x, q)

        study.optimize(f, n_trials=n_trials)
        return study

    study = run(None if objective == "mean" else quantile)
    best = x0.copy()
    for n, c in zip(controllable, cols):
        best[c] = study.best_params.get(n, box[n][0])
    recipe = pd.DataFrame({
        "factor": controllable,
        "label": [bf.factor(n).label for n in controllable],
        "unit": [bf.factor(n).unit for n in controllable],
        "current": x0[cols], "recommended": best[cols],
        "lower_bound": [box[n][0] for n in controllable],
        "upper_bound": [box[n][1] for n in controllable],
    })  # fmt: skip
    nxt = _next_batches(run(1.0 - quantile), controllable, box, n_next) if n_next else None
    return Recommendation(recipe, ens.predict(x0), ens.predict(best), objective, quantile,
                          n_trials, nxt if nxt is not None else pd.DataFrame(),
                          time.perf_counter() - t0)  # fmt: skip


def _next_batches(study, names: list[str], box: dict, k: int) -> pd.DataFrame:
    """The ``k`` best trials of an optimistic search, each at least 0.25 of the box apart."""
    span = np.array([max(box[n][1] - box[n][0], 1e-12) for n in names])
    picked: list[np.ndarray] = []
    values: list[float] = []
    trials = sorted((t for t in study.trials if t.value is not None), key=lambda t: -t.value)
    for t in trials:
        x = np.array([t.params.get(n, box[n][0]) for n in names])
        if all(np.sqrt(np.mean(((x - p) / span) ** 2)) >= 0.25 for p in picked):
            picked.append(x)
            values.append(float(t.value))
        if len(picked) == k:
            break
    df = pd.DataFrame(picked, columns=names)
    df.insert(0, "batch", [f"next_{i + 1}" for i in range(len(df))])
    df["optimistic_titer"] = values
    return df
