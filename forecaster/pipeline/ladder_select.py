"""Out-of-sample forecasts of the ladder's rungs, their scores, blends and the choice.

A :class:`Forecasts` holds, for one rung and one origin day, the forecasts of a set of
batches: ids, measured harvest titer, ``(m, 3)`` p10 / p50 / p90 and the fold that made each
(-1: scored on the validation batches by a model fitted on the training split). The choice
per origin day (see :func:`choose`) is made in two stages:

1. the cheap rungs (naive, ridge) and an inverse-error blend of the two best, on their
   out-of-fold forecasts over train + val: the lowest MAPE wins. The naive rungs are among
   the candidates, so the winner is never worse than the best naive rung on those data;
2. each expensive rung (RF, sequence; fitted on train) and its blend with the stage-1
   winner, on the validation batches: one replaces the stage-1 winner only if its MAPE there
   is lower than both the winner's and the best naive rung's on the same batches.

An expensive rung is judged only on at least :data:`MIN_VAL_BATCHES` validation batches
(on 2 batches a lucky rung wins too often: measured in ``benchmarks/bench_small_data.py``).
A blend's weights (1 / MAPE) are set on the data it is scored on, a mild optimism of one
degree of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecaster.models.ladder.chosen import geometric_blend
from forecaster.pipeline.evaluate import mape

#: fewest validation batches on which an expensive rung may replace the cross-validated choice
MIN_VAL_BATCHES = 5


@dataclass
class Forecasts:
    """Forecasts of one rung at one origin day.

    Attributes:
        ids: ``(m,)`` batch ids.
        y: ``(m,)`` measured harvest titer, mg/L.
        p: ``(m, 3)`` p10 / p50 / p90 harvest titer, mg/L.
        fold: ``(m,)`` fold that made each forecast (-1: the validation split).
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    fold: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def add(self, ids, y, p, fold: int) -> None:
        """Append forecasts of ``len(ids)`` batches made by ``fold``."""
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=object)])
        self.y = np.concatenate([self.y, np.asarray(y, dtype=float)])
        self.p = np.concatenate([self.p, np.asarray(p, dtype=float).reshape(-1, 3)])
        self.fold = np.concatenate([self.fold, np.full(len(ids), fold, dtype=int)])

    def sorted(self) -> Forecasts:
        """The same forecasts ordered by batch id (deterministic whatever the fold order)."""
        o = np.argsort(self.ids.astype(str), kind="stable")
        return Forecasts(self.ids[o], self.y[o], self.p[o], self.fold[o])

    def on(self, ids) -> Forecasts:
        """The forecasts of the batches in ``ids`` (in this object's order)."""
        keep = np.isin(self.ids.astype(str), np.asarray(list(ids), dtype=str))
        return Forecasts(self.ids[keep], self.y[keep], self.p[keep], self.fold[keep])

    @property
    def n(self) -> int:
        return int(self.ids.size)

    def mape(self) -> float:
        """MAPE of p50 (fraction, as ``evaluate.mape``); NaN without forecasts."""
        return mape(self.y, self.p[:, 1]) if self.n else float("nan")

    def log_residuals(self) -> np.ndarray:
        """``(m,)`` ``log(y / p50)``."""
        return np.log(self.y / self.p[:, 1])

    def fold_spread(self) -> dict:
        """``{"mean", "sd", "n_batches", "n_folds"}`` of the per-fold MAPE (sd: ddof 1)."""
        folds = np.unique(self.fold)
        per = [mape(self.y[self.fold == f], self.p[self.fold == f, 1]) for f in folds]
        per = [m for m in per if np.isfinite(m)]
        return {
            "mean": float(np.mean(per)) if per else float("nan"),
            "sd": float(np.std(per, ddof=1)) if len(per) > 1 else float("nan"),
            "n_batches": self.n,
            "n_folds": len(per),
        }


def blend(parts: dict[str, Forecasts], weights: dict[str, float]) -> Forecasts:
    """Weighted geometric mean of the rungs' quantiles over the batches all of them cover."""
    names = list(weights)
    common = set(parts[names[0]].ids.astype(str))
    for n in names[1:]:
        common &= set(parts[n].ids.astype(str))
    aligned = [parts[n].on(common).sorted() for n in names]
    p = geometric_blend([a.p for a in aligned], [weights[n] for n in names])
    a0 = aligned[0]
    return Forecasts(a0.ids, a0.y, p, a0.fold)


def inverse_error_weights(parts: dict[str, Forecasts]) -> dict[str, float]:
    """``{name: 1 / MAPE}`` normalised to sum 1 (an exact forecast takes all the weight)."""
    m = {n: max(f.mape(), 1e-12) for n, f in parts.items()}
    inv = {n: 1.0 / v for n, v in m.items()}
    s = sum(inv.values())
    return {n: v / s for n, v in inv.items()}


def blend_name(names) -> str:
    return "blend(" + "+".join(names) + ")"


@dataclass
class Choice:
    """The forecast chosen at one origin day.

    Attributes:
        rung: a rung name, or ``blend(a+b)``.
        weights: ``{rung: weight}`` (one rung: weight 1).
        on: where it was selected: ``"cv"`` (out-of-fold, train + val) or ``"val"``.
        oos: its out-of-sample forecasts on the selection data.
        detail: figures behind the choice (MAPE of chosen and best naive, batches).
    """

    rung: str
    weights: dict[str, float]
    on: str
    oos: Forecasts
    detail: dict


def choose(
    cheap: dict[str, Forecasts],
    expensive: dict[str, Forecasts],
    naive: tuple[str, ...],
    val_ids: list[str],
) -> Choice:
    """Pick the forecast with the lowest out-of-sample MAPE at one origin day (two stages,
    see the module docstring); ties go to the naive rung, then to the rung listed first."""
    cands = {n: (f, {n: 1.0}) for n, f in cheap.items() if f.n}
    if not cands:
        raise ValueError("no out-of-fold forecasts at this origin day")
    ranked = sorted((n for n in cands if n not in naive), key=lambda n: cands[n][0].mape())
    if len(ranked) >= 1:
        best_naive = min((n for n in naive if n in cands), key=lambda n: cands[n][0].mape())
        top = [best_naive, ranked[0]] if best_naive else ranked[:2]
        w = inverse_error_weights({n: cands[n][0] for n in top})
        cands[blend_name(top)] = (blend({n: cands[n][0] for n in top}, w), w)
    order = [n for n in naive if n in cands] + [n for n in cands if n not in naive]
    champ = min(order, key=lambda n: cands[n][0].mape())
    naive_cv = min((n for n in naive if n in cands), key=lambda n: cands[n][0].mape())
    detail = {
        "on": "cv",
        "mape": cands[champ][0].mape(),
        "best_naive": naive_cv,
        "best_naive_mape": cands[naive_cv][0].mape(),
        "n_batches": cands[champ][0].n,
    }
    chosen = Choice(champ, cands[champ][1], "cv", cands[champ][0], detail)
    expensive = {n: f for n, f in expensive.items() if f.n}
    if not expensive or not val_ids:
        return chosen
    # stage 2: on the validation batches every candidate has forecasts for
    champ_val = _combined(cheap, chosen.weights).on(val_ids)
    naive_val = {n: cheap[n].on(val_ids) for n in naive if n in cheap}
    challengers: dict[str, tuple[Forecasts, dict[str, float]]] = {}
    for n, f in expensive.items():
        challengers[n] = (f, {n: 1.0})
        pair = {chosen.rung: champ_val, n: f}
        w2 = inverse_error_weights(pair)
        bw = {k: v * w2[chosen.rung] for k, v in chosen.weights.items()} | {n: w2[n]}
        challengers[blend_name([chosen.rung, n])] = (blend(pair, w2), bw)
    best = min(challengers, key=lambda n: challengers[n][0].mape())
    f_best = challengers[best][0]
    ids = f_best.ids.astype(str)
    m_champ, m_naive = champ_val.on(ids).mape(), min(v.on(ids).mape() for v in naive_val.values())
    detail["val"] = {
        "challenger": best,
        "challenger_mape": f_best.mape(),
        "cv_choice_mape": m_champ,
        "best_naive_mape": m_naive,
        "n_batches": f_best.n,
    }
    if f_best.n < MIN_VAL_BATCHES:
        detail["val"]["note"] = (
            f"{f_best.n} validation batches: fewer than {MIN_VAL_BATCHES}, "
            "the expensive rungs are shown but not chosen"
        )
    elif f_best.mape() < m_champ and f_best.mape() < m_naive:
        detail.update(on="val", mape=f_best.mape(), best_naive_mape=m_naive, n_batches=f_best.n)
        detail["best_naive"] = min(naive_val, key=lambda n: naive_val[n].on(ids).mape())
        return Choice(best, challengers[best][1], "val", f_best, detail)
    return chosen


def _combined(parts: dict[str, Forecasts], weights: dict[str, float]) -> Forecasts:
    """The forecasts of a weighted combination of rungs (one rung: its own)."""
    if len(weights) == 1:
        return parts[next(iter(weights))]
    return blend({n: parts[n] for n in weights}, weights)


def combine(parts: dict[str, Forecasts], weights: dict[str, float]) -> Forecasts:
    """Apply a choice's weights to other forecasts (e.g. the rungs' test forecasts)."""
    return _combined(parts, weights)
