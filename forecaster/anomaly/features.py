"""The feature layout every scorer reads: preprocessed signals plus set-point deviations.

:class:`FeatureSpec` says which columns of the feature matrix a scorer reads and which
variables it scores; it is fitted once on the fault-free training batches and shared by all
scorers of a detector (saved once, with the detector).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.data.fill import carry_forward
from forecaster.data.process import known_variable

#: Variables scored as their deviation from a set point (the controller's error), which is
#: what a fault shows as, instead of their level (which moves with every set-point change).
SETPOINT_OF: dict[str, str] = {
    "do_pct": "do_setpoint_pct",
    "ph": "ph_setpoint",
    "temperature_C": "temperature_setpoint_C",
}


SETTLE_TAU_H = 2.0


@dataclass
class FeatureSpec:
    """Which features the autoencoder reads and rebuilds, and the derived ones it adds.

    The features are the ``Preprocessor`` columns followed, per variable with a set point,
    by its deviation ``(x - setpoint) / dev_std`` and a settling clock
    ``exp(-hours since the set point last changed / 2 h)`` (so the transient after the
    temperature shift is normal). Scored variables with a set point are scored on the
    deviation; the others on their scaled (last known) value.

    Attributes:
        input_idx: feature columns fed in (F of them).
        target_idx: feature column of each scored variable (V of them).
        mask_idx: for each scored variable, the column of its assay mask (-1 for dense).
        variables: the V scored variable names.
        dev_vars: variables with a deviation column (appended in this order).
        dev_std: standard deviation of each deviation on the training batches (raw units).
        target_std: (V,) raw-unit size of one scaled unit of each target.
    """

    input_idx: list[int]
    target_idx: list[int]
    mask_idx: list[int]
    variables: list[str]
    dev_vars: list[str]
    dev_std: list[float]
    target_std: list[float]

    @classmethod
    def build(
        cls, prep: Preprocessor, train: pd.DataFrame, score_roles: list[str], exclude: list[str]
    ) -> FeatureSpec:
        """Layout for ``prep``; deviation scales fitted on the fault-free ``train`` rows."""
        names, fvars = list(prep.feature_names), prep.feature_variables
        dev_vars, dev_std = [], []
        for v, sp in SETPOINT_OF.items():
            if v in prep.variables and v not in exclude and sp in train.columns:
                d = (train[v] - train[sp]).to_numpy(dtype=float)
                d = d[np.isfinite(d)]
                dev_vars.append(v)
                dev_std.append(float(max(d.std(), 1e-6)) if d.size > 1 else 1.0)
        n_base = len(names)
        names += [f"{v}:deviation" for v in dev_vars] + [f"{v}:settling" for v in dev_vars]
        inputs = [i for i, v in enumerate(fvars) if v not in exclude] + list(
            range(n_base, len(names))
        )
        scored = [v for v in prep.variables if v not in exclude and role_of(prep, v) in score_roles]
        if not scored:
            raise ValueError(
                f"no variable of roles {score_roles} among the preprocessor's {prep.variables}"
            )
        target, tstd = [], []
        for v in scored:
            if v in dev_vars:
                target.append(names.index(f"{v}:deviation"))
                tstd.append(dev_std[dev_vars.index(v)])
            else:
                target.append(names.index(v))
                tstd.append(prep.std[prep.variables.index(v)])
        mask = [names.index(f"{v}:measured") if f"{v}:measured" in names else -1 for v in scored]
        return cls(inputs, target, mask, scored, dev_vars, dev_std, tstd)

    def to_dict(self) -> dict:
        return asdict(self)

    def features(
        self, prep: Preprocessor, rows: pd.DataFrame | Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """``(T, F_all)`` float32: the preprocessed features plus the deviation columns.

        ``rows`` is one batch's rows sorted by time: a DataFrame, or ``{column: (T,) float
        array}`` (the fast path of the detector: no pandas per column)."""
        if isinstance(rows, pd.DataFrame):
            rows = {c: rows[c].to_numpy(dtype=float) for c in _needed(prep, self.dev_vars)}
        base = transform_arrays(prep, rows)
        if not self.dev_vars:
            return base
        t = np.asarray(rows[schema.TIME], dtype=float)
        devs, clocks = [], []
        for v, s in zip(self.dev_vars, self.dev_std):
            sp = carry_forward(np.asarray(rows[SETPOINT_OF[v]], dtype=float), 0.0)
            devs.append(carry_forward((np.asarray(rows[v], dtype=float) - sp) / s, 0.0))
            clocks.append(np.exp(-(t - _last_change(t, sp)) / SETTLE_TAU_H))
        return np.concatenate([base, np.stack(devs + clocks, axis=1).astype(np.float32)], axis=1)

    def in_transient(self, feats: np.ndarray, hours: float) -> np.ndarray:
        """(T, V) True where a scored variable's set point changed less than ``hours`` ago.

        Read from the settling clocks of ``feats: (T, F_all)`` (the last ``len(dev_vars)``
        columns), so it is causal and travels with the features in a stream. Variables
        without a set point are never in a transient.
        """
        out = np.zeros((len(feats), len(self.variables)), dtype=bool)
        if hours <= 0 or not self.dev_vars:
            return out
        first_clock = feats.shape[1] - len(self.dev_vars)
        for j, v in enumerate(self.variables):
            if v in self.dev_vars:
                clock = feats[:, first_clock + self.dev_vars.index(v)].astype(np.float64)
                with np.errstate(divide="ignore"):
                    since = -SETTLE_TAU_H * np.log(clock)  # hours since the last change
                out[:, j] = since < hours - 1e-4  # float32 clocks: integer hours stay outside
        return out

    def targets(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scaled targets and their known-mask from ``feats: (T, F_all)`` -> two (T, V)."""
        y = feats[:, self.target_idx]
        m = np.ones_like(y)
        for j, mi in enumerate(self.mask_idx):
            if mi >= 0:  # an assay is known from its first measurement on (causal)
                m[:, j] = np.maximum.accumulate(feats[:, mi] > 0)
        return y, m


def role_of(prep: Preprocessor, var: str) -> str:
    """Role of ``var``: from the fitted preprocessing when it records roles, else from the
    process presets (the CHO preset first)."""
    roles = getattr(prep, "roles", None)
    if isinstance(roles, Mapping) and var in roles:
        return str(roles[var])
    return known_variable(var).role


def windows(x: np.ndarray, length: int) -> np.ndarray:
    """All causal windows of ``x: (T, F)`` -> ``(T, length, F)``; row t's window ends at t."""
    pad = np.concatenate([np.repeat(x[:1], length - 1, axis=0), x], axis=0)
    win = np.lib.stride_tricks.sliding_window_view(pad, length, axis=0)  # (T, F, L)
    return np.ascontiguousarray(win.transpose(0, 2, 1))


def _needed(prep: Preprocessor, dev_vars: list[str]) -> list[str]:
    return list(dict.fromkeys([schema.TIME, *prep.variables, *(SETPOINT_OF[v] for v in dev_vars)]))


def transform_arrays(prep: Preprocessor, cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """``prep.transform_arrays``: the one feature kernel (kept as a name for callers)."""
    return prep.transform_arrays(cols)


def _last_change(t: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """(T,) time of the last set-point change at or before each row (-inf if none seen).

    A change before the first row is invisible; the stream keeps more than
    ``5 x SETTLE_TAU_H`` hours of rows, after which the clock is ~0 anyway.
    """
    out = np.full(len(t), -np.inf)
    ch = np.flatnonzero(np.abs(np.diff(sp)) > 1e-9) + 1
    out[ch] = t[ch]
    return np.maximum.accumulate(out)
