"""``ridge_physics``: the plan-aware ridge, with features that carry the shift's physics.

:class:`PlanDesignRung` builds, per origin day d, the design of :class:`RidgePlan` (daily
log assays of days 1..d, the plan values) plus :func:`physics_features` (hours before and
after the planned shift, the temperature drop and their products with the cell state,
projections of the final titer; they need the harvest time, so the design is built with
it), fills missing values with the training medians, standardises, and hands each day's
matrix to ``_fit_day`` / ``_predict_day``. :class:`RidgePhysics` is the ridge on that
design (penalty by generalised cross-validation, ``RidgeCV``); the kernel rung
(:mod:`forecaster.models.ladder.kernel`) shares the design.

Fitted state is plain values (lists and floats) with a format version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

from forecaster import schema
from forecaster.models.ladder.plan_features import SETPOINT_C, Prefix, physics_features
from forecaster.models.ladder.protocol import MIN_TITER, end_h, finals, origin_day
from forecaster.models.ladder.ridge import ALPHAS, MIN_BATCHES, RidgePlan, reads_more

#: version of the fitted state this code writes (and the newest it reads)
FORMAT_VERSION = 1
_FLOOR = 1e-3


def column_medians(x: np.ndarray) -> np.ndarray:
    """``(P,)`` median of each column of ``x (n, P)`` over its finite values (0 if none)."""
    out = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        v = x[np.isfinite(x[:, j]), j]
        out[j] = float(np.median(v)) if v.size else 0.0
    return out


class PlanDesignRung(RidgePlan):
    """Base of the plan-aware rungs: one model per origin day on the physics design.

    Attributes:
        models: ``{day: {"fill" (P,), "mean" (P,), "scale" (P,), ...the model's own}}``.
        cells: the cell-mass column the physics features read (None: none in the data).
    """

    name = "plan_design"

    def __init__(self, product: str = schema.TITER, statics: tuple[str, ...] = ()) -> None:
        super().__init__(product, statics)
        self.cells: str | None = None

    # ----------------------------------------------------------------- design
    def _arrays(self, rows: pd.DataFrame) -> Prefix:
        """The columns the design reads, as arrays (once per batch or prefix)."""
        return Prefix.of(rows, (*self.columns, *self.plan, SETPOINT_C))

    def served_inputs(self) -> dict[str, tuple[str, ...]] | None:
        """:meth:`RidgePlan.served_inputs` plus the first set point the physics reads
        (:func:`~forecaster.models.ladder.plan_features.shift_plan`); the same for every
        rung on this design (``ridge_physics``, ``kernel_plan``)."""
        if reads_more(
            self, PlanDesignRung, ("_arrays", "_design", "_point", "_point_arrays", "predict")
        ):
            return None
        return {"assays": self.columns, "last": self.plan, "first": (SETPOINT_C,)}

    def _design(self, prefix: Prefix, day: int, harvest_h: float) -> np.ndarray:
        """``(P,)`` features of one prefix at origin day ``day``: the log daily assays of
        days 1..day (as ``ridge``), the plan values (as ``ridge_plan``), the physics."""
        history = [np.log(np.maximum(prefix.daily(c, day), _FLOOR)) for c in self.columns]
        plan = np.asarray([prefix.static(c) for c in self.plan], dtype=float)
        phys = physics_features(prefix, day, harvest_h, self.plan, self.product, self.cells)
        return np.concatenate([*history, plan, phys])

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.plan = tuple(
            c for c in self.statics if all(c in b.columns and b[c].notna().any() for b in batches)
        )
        y = np.log(finals(batches, self.product))
        self.mean_final = float(np.mean(np.exp(y)))
        self.columns = self._columns(batches)
        self.cells = next((c for c in self.columns if c != self.product), None)
        ends = np.asarray([end_h(b) for b in batches])
        arrays = [self._arrays(b) for b in batches]
        self.models = {}
        for day in range(1, int(ends.max() // 24) + 1):
            keep = np.flatnonzero(ends > 24.0 * day)
            if keep.size < MIN_BATCHES:
                continue
            o = 24.0 * day
            x = np.stack([self._design(arrays[i].upto(o), day, ends[i]) for i in keep])
            fill = column_medians(x)
            x = np.where(np.isfinite(x), x, fill)
            mean, scale = x.mean(0), x.std(0)
            scale = np.where(scale > 1e-12, scale, 1.0)
            model = self._fit_day((x - mean) / scale, y[keep])
            self.models[day] = {"fill": fill, "mean": mean, "scale": scale, **model}

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        days = origin_day([end_h(p) for p in prefixes])
        return self._point_arrays([self._arrays(p) for p in prefixes], days, harvest_h)

    def _point_arrays(
        self, prefixes: list[Prefix], days: np.ndarray, harvest_h: np.ndarray
    ) -> np.ndarray:
        """``(n,)`` point forecast (mg/L) of prefixes (as arrays) at origin ``days (n,)``."""
        out = np.full(len(prefixes), float(self.mean_final))
        if not self.models:
            return out
        known = np.asarray(sorted(self.models))
        for i, (p, d) in enumerate(zip(prefixes, days)):
            j = np.searchsorted(known, d, side="right") - 1
            if j < 0:
                continue
            m = self.models[int(known[j])]
            x = self._design(p, int(known[j]), float(harvest_h[i]))
            x = np.where(np.isfinite(x), x, m["fill"])
            out[i] = float(np.exp(self._predict_day(m, ((x - m["mean"]) / m["scale"])[None])[0]))
        return out

    def _fit_spread(self, rows: list[pd.DataFrame]) -> dict[int, tuple[float, float]]:
        """:meth:`PointRung._fit_spread` (10 % / 90 % quantiles of the in-sample log ratio
        final / forecast per origin day), reading each batch's columns once."""
        y, ends = finals(rows, self.product), np.asarray([end_h(b) for b in rows])
        arrays = [self._arrays(b) for b in rows]
        out: dict[int, tuple[float, float]] = {}
        for day in range(0, int(np.max(ends) // 24) + 1):
            pre = [(i, arrays[i].upto(24.0 * day)) for i in np.flatnonzero(ends > 24.0 * day)]
            pre = [(i, p) for i, p in pre if p.time.size]
            if len(pre) < 2:
                continue
            keep = np.asarray([i for i, _ in pre])
            last = origin_day([p.time[-1] for _, p in pre])
            pt = self._point_arrays([p for _, p in pre], last, ends[keep])
            r = np.log(y[keep]) - np.log(np.maximum(pt, MIN_TITER))
            out[day] = (float(np.quantile(r, 0.1)), float(np.quantile(r, 0.9)))
        return out

    def _fit_day(self, z: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Fit one day's model on standardised features ``z (n, P)`` and log finals ``y (n,)``."""
        raise NotImplementedError

    def _predict_day(self, model: Mapping[str, Any], z: np.ndarray) -> np.ndarray:
        """``(m,)`` log harvest forecast of standardised features ``z (m, P)``."""
        raise NotImplementedError

    # ------------------------------------------------------------ persistence
    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "cells": self.cells, "format_version": FORMAT_VERSION}

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> PlanDesignRung:
        version = int(state.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{cls.name} state format {version} is newer than this version reads "
                f"({FORMAT_VERSION}); upgrade the package"
            )
        rung = super()._from_state(state)
        rung.cells = None if state.get("cells") is None else str(state["cells"])
        return rung


class RidgePhysics(PlanDesignRung):
    """``ridge_physics``: ridge regression of the log harvest titer on the physics design.

    Each day's model: ``{"coef" (P,), "intercept", "alpha"}`` (penalty by generalised
    cross-validation over ``ALPHAS`` and 10x beyond, on the training batches).
    """

    name = "ridge_physics"

    def _fit_day(self, z: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        reg = RidgeCV(alphas=(*ALPHAS, 1e4)).fit(z, y)
        return {
            "coef": np.asarray(reg.coef_, dtype=float),
            "intercept": float(reg.intercept_),
            "alpha": float(reg.alpha_),
        }

    def _predict_day(self, model: Mapping[str, Any], z: np.ndarray) -> np.ndarray:
        return z @ model["coef"] + model["intercept"]
