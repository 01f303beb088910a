"""``ridge``: the classical batch-monitoring predictor, one ridge regression per origin day.

For origin day d (the prefix's whole days of culture) the features are the daily log-titer
and log-VCD assays of days 1..d (:func:`daily_assay`: an assay within 1 h of each day
boundary; a missing one is replaced by the training median of that feature); the target is
the log harvest titer. Each day's penalty is chosen by leave-one-out cross-validation
(``RidgeCV``, generalised cross-validation) on standardised features. A prefix older than
the last fitted day uses the last day's model; one younger than day 1 gets the mean final
titer. The fitted models are kept as plain arrays: prediction needs no scikit-learn object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

from forecaster import schema
from forecaster.data.targets import daily_assay
from forecaster.models.ladder.protocol import (
    PointRung,
    end_h,
    finals,
    origin_day,
    product_of,
    upto,
)

#: assays whose daily history is the regression's input
HISTORY: tuple[str, ...] = (schema.TITER, "vcd_1e6_cells_mL")
#: cell-mass assays used beside the product (CHO VCD; a microbial dry weight)
CELL_MASS: tuple[str, ...] = ("vcd_1e6_cells_mL", "biomass_g_L")
#: penalties tried by ``RidgeCV``
ALPHAS = tuple(np.logspace(-3, 3, 13))
#: fewest training batches running past an origin day for that day to get a model
MIN_BATCHES = 3
_FLOOR = 1e-3


def history_features(rows: pd.DataFrame, day: int, columns: tuple[str, ...]) -> np.ndarray:
    """``(len(columns) * day,)`` log assays of days 1..``day`` (NaN where not measured)."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    parts = [
        np.log(np.maximum(daily_assay(t, rows[c].to_numpy(dtype=float), day), _FLOOR))
        for c in columns
    ]
    return np.concatenate(parts)


def last_values(rows: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """``(len(columns),)`` each column's last non-NaN value (NaN if none or absent)."""
    out = np.full(len(columns), np.nan)
    for j, c in enumerate(columns):
        if c in rows:
            v = rows[c].to_numpy(dtype=float)
            seen = np.flatnonzero(~np.isnan(v))
            if seen.size:
                out[j] = v[seen[-1]]
    return out


class RidgeHistory(PointRung):
    """Ridge regression of the log harvest titer on the daily log-assay history.

    Attributes:
        columns: the assays used (``HISTORY`` present in the training batches).
        models: ``{day: {"fill", "mean", "scale", "coef" (P,), "intercept", "alpha"}}``.
        mean_final: forecast of prefixes younger than the first fitted day (mg/L).
    """

    name = "ridge"

    def __init__(self, product: str = schema.TITER) -> None:
        super().__init__(product)
        self.columns: tuple[str, ...] = ()
        self.models: dict[int, dict[str, Any]] = {}
        self.mean_final: float | None = None

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        y = np.log(finals(batches, self.product))
        self.mean_final = float(np.mean(np.exp(y)))
        self.columns = self._columns(batches)
        ends = np.asarray([end_h(b) for b in batches])
        self.models = {}
        for day in range(1, int(ends.max() // 24) + 1):
            keep = np.flatnonzero(ends > 24.0 * day)
            if keep.size < MIN_BATCHES:
                continue
            x = np.stack([self._features(upto(batches[i], 24.0 * day), day) for i in keep])
            fill = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
            fill = np.where(np.isfinite(fill), fill, 0.0)
            x = np.where(np.isfinite(x), x, fill)
            mean, scale = x.mean(0), x.std(0)
            scale = np.where(scale > 1e-12, scale, 1.0)
            reg = RidgeCV(alphas=ALPHAS).fit((x - mean) / scale, y[keep])
            self.models[day] = {
                "fill": fill,
                "mean": mean,
                "scale": scale,
                "coef": np.asarray(reg.coef_, dtype=float),
                "intercept": float(reg.intercept_),
                "alpha": float(reg.alpha_),
            }

    def _columns(self, batches: list[pd.DataFrame]) -> tuple[str, ...]:
        """The product and the cell-mass assays present in every training batch."""
        history = (self.product, *CELL_MASS)
        return tuple(c for c in history if all(c in b.columns for b in batches))

    def _features(self, rows: pd.DataFrame, day: int) -> np.ndarray:
        return history_features(rows, day, self.columns)

    def served_inputs(self) -> dict[str, tuple[str, ...]] | None:
        """What a prefix's forecast reads besides its origin day and harvest time.

        Two prefixes of one batch with the same origin day, harvest time and these inputs
        get the same forecast, which lets a running batch's forecast be kept until an
        input changes (:class:`forecaster.serve.chosen_stream.ChoiceStream`).

        Returns:
            ``{"assays": columns whose every finite value is read, "last": columns whose
            last finite value is read, "first": columns whose first finite value is read}``;
            None for a subclass that changes what is read without saying it here (e.g.
            ``ridge_summary``, which reads signal summaries): it is recomputed every time.
        """
        if reads_more(self, RidgeHistory, ("_features", "_point", "predict")):
            return None
        return {"assays": self.columns, "last": (), "first": ()}

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        out = np.full(len(prefixes), float(self.mean_final))
        if not self.models:
            return out
        known = np.asarray(sorted(self.models))
        for i, (p, d) in enumerate(zip(prefixes, origin_day([end_h(p) for p in prefixes]))):
            j = np.searchsorted(known, d, side="right") - 1
            if j < 0:
                continue
            m = self.models[int(known[j])]
            x = self._features(p, int(known[j]))
            x = np.where(np.isfinite(x), x, m["fill"])
            out[i] = float(np.exp(((x - m["mean"]) / m["scale"]) @ m["coef"] + m["intercept"]))
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "mean_final": self.mean_final,
            "models": {
                str(d): {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in m.items()}
                for d, m in self.models.items()
            },
        }

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> RidgeHistory:
        rung = cls(product_of(state))
        rung.columns = tuple(state["columns"])
        rung.mean_final = float(state["mean_final"])
        rung.models = {
            int(d): {
                k: (np.asarray(v, dtype=float) if isinstance(v, list) else float(v))
                for k, v in m.items()
            }
            for d, m in state["models"].items()
        }
        return rung


class RidgePlan(RidgeHistory):
    """``ridge_plan``: :class:`RidgeHistory` with the batch's static values known in advance
    (the planned recipe: shift time and temperature, feed start, harvest; start conditions)
    as extra features beside the assay history.

    Attributes:
        plan: the static columns used (those of ``statics`` present and measured in every
            training batch).
    """

    name = "ridge_plan"

    def __init__(self, product: str = schema.TITER, statics: tuple[str, ...] = ()) -> None:
        super().__init__(product)
        self.statics = tuple(statics)
        self.plan: tuple[str, ...] = ()

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.plan = tuple(
            c for c in self.statics if all(c in b.columns and b[c].notna().any() for b in batches)
        )
        super()._fit_core(batches)

    def _features(self, rows: pd.DataFrame, day: int) -> np.ndarray:
        return np.concatenate([super()._features(rows, day), last_values(rows, self.plan)])

    def served_inputs(self) -> dict[str, tuple[str, ...]] | None:
        """:meth:`RidgeHistory.served_inputs` plus the plan columns (their last value)."""
        if reads_more(self, RidgePlan, ("_features", "_point", "predict")):
            return None
        return {"assays": self.columns, "last": self.plan, "first": ()}

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "plan": list(self.plan)}

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> RidgePlan:
        rung = super()._from_state(state)
        rung.plan = tuple(state.get("plan", ()))
        rung.statics = rung.plan
        return rung


def reads_more(rung: object, cls: type, methods: tuple[str, ...]) -> bool:
    """Whether ``rung``'s class replaces one of ``cls``'s ``methods`` (what it reads may
    then differ from what ``cls.served_inputs`` says)."""
    return any(getattr(type(rung), m) is not getattr(cls, m) for m in methods)
