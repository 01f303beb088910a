"""Attribution of one prediction, its per-variable and per-day summaries, and their means.

An :class:`AttributionResult` holds what an explainer found for one prediction (one batch,
one target, one forecast origin): attributions over the prefix's time steps and the model's
input variables, in the units of the explained output (scaled model output). It is plain
data, separate from the explainer that produced it, and round-trips through ``to_dict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema

#: Model inputs that are not process variables: the clock (elapsed time). A model may use
#: it as an input, but it is never ranked as a variable that drove a prediction.
NOT_RANKED: tuple[str, ...] = (schema.TIME,)


@dataclass
class AttributionResult:
    """Attributions of one prediction.

    Attributes:
        batch_id: the explained batch.
        target: ``feed`` or ``titer``.
        method: ``ig``, ``ablation``, ...
        origin_h: time of the prefix's last row (h), i.e. the forecast origin.
        time_h: (L,) times of the prefix rows (h).
        variables: V input variables (canonical names, ``time_h`` for the clock).
        values: (L, V) signed attribution per step and variable (sum over the variable's
            features), scaled output units.
        magnitude: (L, V) sum of absolute feature attributions per step and variable; the
            shares below are computed from it, so a variable's features cannot cancel.
        prediction: model output at the origin (scaled units).
        baseline_prediction: model output for the baseline input (scaled units).
        convergence_delta: IG only: sum of attributions minus (prediction - baseline output).
    """

    batch_id: str
    target: str
    method: str
    origin_h: float
    time_h: np.ndarray
    variables: list[str]
    values: np.ndarray
    magnitude: np.ndarray
    prediction: float = float("nan")
    baseline_prediction: float = float("nan")
    convergence_delta: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_features(
        cls,
        attr: np.ndarray,
        feature_variables: Sequence[str],
        *,
        batch_id: str,
        target: str,
        method: str,
        time_h: np.ndarray,
        **kw: Any,
    ) -> AttributionResult:
        """Aggregate feature attributions ``attr: (L, F)`` to the variables behind them."""
        attr = np.asarray(attr, dtype=float)
        fv = list(feature_variables)
        if attr.ndim != 2 or attr.shape[1] != len(fv) or attr.shape[0] != len(time_h):
            raise ValueError(
                f"attributions of batch {batch_id!r} have shape {attr.shape}; expected "
                f"({len(time_h)}, {len(fv)}) = (steps, features)"
            )
        variables = list(dict.fromkeys(fv))
        group = np.zeros((len(fv), len(variables)))
        group[np.arange(len(fv)), [variables.index(v) for v in fv]] = 1.0
        return cls(
            batch_id=str(batch_id),
            target=target,
            method=method,
            origin_h=float(time_h[-1]) if len(time_h) else float("nan"),
            time_h=np.asarray(time_h, dtype=float),
            variables=variables,
            values=attr @ group,
            magnitude=np.abs(attr) @ group,
            **kw,
        )

    # --------------------------------------------------------------- summaries
    @property
    def total(self) -> float:
        """Sum of all signed attributions (IG: ~ prediction - baseline prediction)."""
        return float(self.values.sum())

    def variable_shares(self) -> pd.Series:
        """(V,) share of the total absolute attribution per variable; sums to 1 (or all 0)."""
        per = self.magnitude.sum(axis=0)
        tot = per.sum()
        return pd.Series(per / tot if tot > 0 else per * 0.0, index=self.variables, name="share")

    def day_shares(self) -> pd.Series:
        """Share of the total absolute attribution per culture day (day 0 = first 24 h)."""
        day = np.floor(self.time_h / 24.0).astype(int)
        per = pd.Series(self.magnitude.sum(axis=1), index=day).groupby(level=0).sum()
        tot = per.sum()
        per.index.name = "day"
        return (per / tot if tot > 0 else per * 0.0).rename("share")

    def process_shares(self) -> pd.Series:
        """(V',) shares of the process variables alone (the clock left out); sums to 1 (or
        all 0). What the batch's ``top_variables`` rank."""
        per = self.magnitude.sum(axis=0)
        keep = np.array([v not in NOT_RANKED for v in self.variables], dtype=bool)
        per, names = per[keep], [v for v, k in zip(self.variables, keep) if k]
        tot = per.sum()
        return pd.Series(per / tot if tot > 0 else per * 0.0, index=names, name="share")

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` process variables with the largest shares, largest first.

        The clock (``time_h``) is an input of the model, not a variable that drove the
        prediction: it is not ranked, and the shares are among the process variables
        (:meth:`process_shares`).
        """
        s = self.process_shares().sort_values(ascending=False, kind="stable")
        return [(str(v), float(x)) for v, x in s.iloc[:k].items()]

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists and floats)."""
        return {
            "batch_id": self.batch_id,
            "target": self.target,
            "method": self.method,
            "origin_h": self.origin_h,
            "time_h": self.time_h.tolist(),
            "variables": list(self.variables),
            "values": self.values.tolist(),
            "magnitude": self.magnitude.tolist(),
            "prediction": self.prediction,
            "baseline_prediction": self.baseline_prediction,
            "convergence_delta": self.convergence_delta,
            "variable_shares": self.variable_shares().to_dict(),
            "day_shares": {int(k): float(v) for k, v in self.day_shares().items()},
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttributionResult:
        n_var = len(d["variables"])
        return cls(
            batch_id=d["batch_id"],
            target=d["target"],
            method=d["method"],
            origin_h=float(d["origin_h"]),
            time_h=np.asarray(d["time_h"], dtype=float),
            variables=list(d["variables"]),
            values=np.asarray(d["values"], dtype=float).reshape(-1, n_var),
            magnitude=np.asarray(d["magnitude"], dtype=float).reshape(-1, n_var),
            prediction=float(d["prediction"]),
            baseline_prediction=float(d["baseline_prediction"]),
            convergence_delta=d.get("convergence_delta"),
            meta=dict(d.get("meta", {})),
        )

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per (time step, variable) with ``attribution`` and ``magnitude``."""
        n_t, n_v = self.values.shape
        return pd.DataFrame(
            {
                schema.BATCH_ID: self.batch_id,
                "target": self.target,
                "method": self.method,
                "origin_h": self.origin_h,
                schema.TIME: np.repeat(self.time_h, n_v),
                "variable": np.tile(np.asarray(self.variables, dtype=object), n_t),
                "attribution": self.values.ravel(),
                "magnitude": self.magnitude.ravel(),
            }
        )


def global_importance(results: Sequence[AttributionResult]) -> pd.Series:
    """Mean of the per-prediction variable shares (missing variables count as 0).

    Returns:
        (V,) shares summing to 1, sorted largest first; empty if ``results`` is empty.
    """
    if not results:
        return pd.Series(dtype=float, name="share")
    shares = pd.concat([r.variable_shares() for r in results], axis=1).fillna(0.0)
    return shares.mean(axis=1).sort_values(ascending=False, kind="stable").rename("share")


def global_day_importance(results: Sequence[AttributionResult]) -> pd.Series:
    """Mean of the per-prediction day shares (days a prefix does not reach count as 0)."""
    if not results:
        return pd.Series(dtype=float, name="share")
    shares = pd.concat([r.day_shares() for r in results], axis=1).fillna(0.0)
    return shares.mean(axis=1).sort_index().rename("share")


def results_frame(results: Sequence[AttributionResult]) -> pd.DataFrame:
    """All results as one long table (see :meth:`AttributionResult.to_frame`)."""
    if not results:
        return pd.DataFrame(
            columns=[
                schema.BATCH_ID,
                "target",
                "method",
                "origin_h",
                schema.TIME,
                "variable",
                "attribution",
                "magnitude",
            ]
        )
    return pd.concat([r.to_frame() for r in results], ignore_index=True)
