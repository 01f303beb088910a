"""The forecast the tool gives: the ladder's choice per origin day, served on new batches.

Training scores every rung of the ladder on the same batches and chooses, per origin day, one
rung or a weighted blend of two or three (``forecaster.pipeline.ladder``). This object keeps
what serving that choice needs, as plain values (``forecast/chosen.json``):

- the weights per origin day (``{day: {rung: weight}}``), combined as a weighted geometric
  mean of the rungs' p10 / p50 / p90 (:func:`geometric_blend`, the ladder's own blend);
- the cheap rungs those weights name (naive, ridge), refitted on train + val;
- the split-conformal calibration of the choice per origin day (its 80 / 90 / 95 % intervals).

A prefix whose last row is at hour ``t`` is served the choice of the latest origin day at or
before ``t`` (before the first origin day: the first day's choice). The expensive rungs (the
sequence model, the RandomForest) are not held here: the caller passes their forecasts of
the same prefixes (:meth:`ChosenForecast.predict`), as it has computed them anyway.

Example:
    >>> chosen = ChosenForecast.from_state_dict(json.loads(path.read_text()))
    >>> p = chosen.predict(prefixes, given={"sequence": seq_p})  # (n, 3) mg/L
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.conformal import ConformalCalibration
from forecaster.models.ladder.protocol import PointRung

FORMAT = "bioreactor-forecaster/chosen-forecast"
FORMAT_VERSION = 1
#: rungs fitted elsewhere whose forecasts the caller passes in
EXPENSIVE = ("rf", "sequence")


def geometric_blend(parts: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted geometric mean of ``k`` forecasts ``(n, 3)`` (p10, p50, p90, > 0), each row
    sorted: ``(n, 3)``. The weights are normalised to sum 1."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    tiny = np.finfo(float).tiny  # a zero quantile stays ~0, not NaN
    logp = sum(wi * np.log(np.maximum(np.asarray(p, dtype=float), tiny)) for wi, p in zip(w, parts))
    return np.sort(np.exp(logp), axis=1)


@dataclass
class ChosenForecast:
    """The ladder's choice per origin day, ready to serve.

    Attributes:
        product: the column forecast (the process's product).
        weights: ``{day: {rung: weight}}``, day as ``"3"``; weights sum to 1.
        rungs: the cheap rungs the weights name (fitted).
        calibration: conformal half-widths of the choice per day and level.
        planned_end_h: median last-row time of the training batches (h).
        rung_by_day: ``{day: name}`` (``blend(a+b)`` for a blend), for messages.
    """

    product: str
    weights: dict[str, dict[str, float]]
    rungs: dict[str, PointRung] = field(default_factory=dict)
    calibration: ConformalCalibration = field(default_factory=ConformalCalibration)
    planned_end_h: float = float("nan")
    rung_by_day: dict[str, str] = field(default_factory=dict)

    @property
    def days(self) -> list[str]:
        """Origin days with a choice, in order (``"3"``, ``"5"``...)."""
        return sorted(self.weights, key=float)

    def needs(self) -> set[str]:
        """Expensive rungs (``rf``, ``sequence``) named by some day's weights."""
        return {n for w in self.weights.values() for n in w if n not in self.rungs}

    def day_for(self, time_h: np.ndarray) -> np.ndarray:
        """``(n,)`` the origin day (key) served at each last-row hour ``time_h (n,)``."""
        days = self.days
        hours = np.asarray([24.0 * float(d) for d in days])
        idx = np.searchsorted(hours, np.asarray(time_h, dtype=float) + 1e-9, side="right") - 1
        return np.asarray([days[i] for i in np.clip(idx, 0, None)], dtype=object)

    def predict(
        self,
        prefixes: Sequence[pd.DataFrame],
        given: Mapping[str, np.ndarray] | None = None,
        level: float = 0.8,
        harvest_h: float | Sequence[float] | None = None,
    ) -> np.ndarray:
        """Harvest forecast of each prefix (its rows up to now).

        Args:
            prefixes: one frame per batch, rows sorted by time.
            given: ``{rung: (n, 3)}`` forecasts of the same prefixes by the expensive rungs
                (every name of :meth:`needs`).
            level: nominal coverage of the returned interval.
            harvest_h: harvest time (h) of each prefix, one for all or ``(n,)``; None: the
                cheap rungs' planned end.

        Returns:
            ``(n, 3)`` interval low, median, interval high (the product's unit). The
            interval is the choice's conformal one; where too few out-of-sample batches
            supported ``level`` at that day, the blended rungs' own p10 / p90.

        Raises:
            ValueError: a needed expensive rung's forecasts are missing or of another length.
        """
        n = len(prefixes)
        given = dict(given or {})
        for name in self.needs():
            if name not in given or len(given[name]) != n:
                raise ValueError(f"chosen forecast: {name} forecasts of the {n} prefixes needed")
        out = np.zeros((n, 3))
        if n == 0:
            return out
        t_last = np.asarray([float(p[schema.TIME].iloc[-1]) for p in prefixes])
        h = None if harvest_h is None else np.broadcast_to(np.asarray(harvest_h, float), (n,))
        day_of = self.day_for(t_last)
        for d in self.days:
            idx = np.flatnonzero(day_of == d)
            if not idx.size:
                continue
            pre = [prefixes[i] for i in idx]
            parts = {
                r: self.rungs[r].predict(pre, None if h is None else h[idx])
                if r in self.rungs
                else np.asarray(given[r], dtype=float)[idx]
                for r in self.weights[d]
            }
            out[idx] = self.blend_day(d, parts, level)
        return out

    def blend_day(self, d: str, parts: Mapping[str, np.ndarray], level: float) -> np.ndarray:
        """``(n, 3)`` the origin-day-``d`` choice from its rungs' ``(n, 3)`` forecasts.

        Args:
            d: the origin day (a key of ``weights``).
            parts: ``{rung: (n, 3)}`` for every rung weighted at ``d``.
            level: nominal coverage; the choice's conformal interval replaces the blended
                rungs' own where enough out-of-sample batches supported it at ``d``.
        """
        names = list(self.weights[d])
        p = geometric_blend([parts[r] for r in names], [self.weights[d][r] for r in names])
        if self.calibration.met(d, level):
            lo, hi = self.calibration.interval(p[:, 1], d, level)
            p = np.stack([lo, p[:, 1], hi], 1)
        return p

    # ------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "product": self.product,
            "weights": {d: dict(w) for d, w in self.weights.items()},
            "rung_by_day": dict(self.rung_by_day),
            "planned_end_h": float(self.planned_end_h),
            "rungs": {n: r.state_dict() for n, r in self.rungs.items()},
            "calibration": self.calibration.state_dict(),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> ChosenForecast:
        """Inverse of :meth:`state_dict`.

        Raises:
            ValueError: another format, or a newer format version.
        """
        from forecaster.models.ladder import rung_from_state_dict

        if state.get("format") != FORMAT:
            raise ValueError(f"not a chosen forecast (format {state.get('format')!r})")
        if int(state.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"chosen forecast format {state['format_version']} is newer than this "
                f"version reads ({FORMAT_VERSION}); upgrade the package"
            )
        weights = {
            str(d): {str(r): float(v) for r, v in w.items()} for d, w in state["weights"].items()
        }
        return cls(
            product=str(state["product"]),
            weights=weights,
            rungs={str(n): rung_from_state_dict(s) for n, s in state["rungs"].items()},
            calibration=ConformalCalibration.from_state_dict(state["calibration"]),
            planned_end_h=float(state["planned_end_h"]),
            rung_by_day={str(d): str(r) for d, r in state.get("rung_by_day", {}).items()},
        )
