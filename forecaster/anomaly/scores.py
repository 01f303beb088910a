"""Causal reconstruction-error scores of the autoencoder, per time step and per variable.

The score at row t comes from the window of rows t-W+1..t (the first rows of a batch are
padded by repeating row 0), so it never uses a later row. The error of each reconstructed
variable is divided by its mean squared error on fault-free training windows, so every
variable is on the same footing; the score is the mean of these normalised errors (about 1
on normal data) and each variable's share of their sum is its contribution.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.data.fill import carry_forward
from forecaster.models.autoencoder_net import AutoencoderNet

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
        scored = [
            v for v in prep.variables if v not in exclude and schema.variable(v).role in score_roles
        ]
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


def windows(x: np.ndarray, length: int) -> np.ndarray:
    """All causal windows of ``x: (T, F)`` -> ``(T, length, F)``; row t's window ends at t."""
    pad = np.concatenate([np.repeat(x[:1], length - 1, axis=0), x], axis=0)
    win = np.lib.stride_tricks.sliding_window_view(pad, length, axis=0)  # (T, F, L)
    return np.ascontiguousarray(win.transpose(0, 2, 1))


@dataclass
class ScoreResult:
    """Scores of the rows of one batch.

    Attributes:
        score: (T,) mean over variables of the normalised squared error of the newest row.
        contrib: (T, V) each variable's share of the row's error (rows sum to 1).
        recon: (T, V) reconstruction in scaled units.
        target: (T, V) scaled values; mask: (T, V) 1 where known.
    """

    score: np.ndarray
    contrib: np.ndarray
    recon: np.ndarray
    target: np.ndarray
    mask: np.ndarray


class AEScorer:
    """Scores rows with a trained :class:`AutoencoderNet`.

    Args:
        net: trained network (put in eval mode here).
        spec: feature layout.
        window: W, rows per window.
        err_scale: (H, V) mean squared error of each variable at each hour of the run on
            fault-free training batches (rows past H use the last hour), so start-up
            transients and set-point changes that are normal are not alarms.
        dt_h: hours per row of ``err_scale``.
        top_k: the score is the mean of the ``top_k`` largest normalised errors of a row
            (0 or >= V: the mean over all V variables).
        setpoint_transient_h: for this many hours after a variable's set point changes, its
            error is left out of the score (and of the contributions): the reading lags a
            step (the temperature shift takes an hour or two), which is not a fault. The
            other variables are still scored.
    """

    def __init__(
        self,
        net: AutoencoderNet,
        spec: FeatureSpec,
        window: int,
        err_scale: np.ndarray,
        dt_h: float = 1.0,
        top_k: int = 0,
        setpoint_transient_h: float = 0.0,
    ):
        self.net = net.eval()
        self.spec, self.window, self.dt_h = spec, int(window), float(dt_h)
        self.err_scale = np.atleast_2d(np.asarray(err_scale, dtype=np.float64))
        self.top_k = int(top_k)
        self.setpoint_transient_h = float(setpoint_transient_h)

    @torch.inference_mode()
    def reconstruct_last(self, feats: np.ndarray, rows: slice | None = None) -> np.ndarray:
        """Reconstruction (n, V) of the newest row of the windows ending at ``rows``."""
        x = feats[:, self.spec.input_idx]
        if rows is not None:  # only the windows asked for: rows before them as context
            lo = rows.start or 0
            x = x[max(0, lo - self.window + 1) :]
            win = windows(x, self.window)[min(lo, self.window - 1) :]
        else:
            win = windows(x, self.window)
        if len(win) == 0:
            return np.zeros((0, len(self.spec.variables)), np.float32)
        x_t = torch.from_numpy(np.require(win, np.float32, ["C", "W"]))
        return self.net.reconstruct_newest(x_t).numpy()

    def score(self, feats: np.ndarray, t_h: np.ndarray, rows: slice | None = None) -> ScoreResult:
        """Scores of the rows ``rows`` (default all; a slice ``lo:``) of ``feats: (T, F_all)``
        at hours ``t_h: (T,)``. All windows go through the network in one forward pass."""
        recon = self.reconstruct_last(feats, rows).astype(np.float64)
        y, m = self.spec.targets(feats)
        m = m * ~self.spec.in_transient(feats, self.setpoint_transient_h)
        t_h = np.asarray(t_h, dtype=float)
        if rows is not None:
            y, m, t_h = y[rows], m[rows], t_h[rows]
        h = np.clip(np.rint(t_h / self.dt_h).astype(int), 0, len(self.err_scale) - 1)
        err = (recon - y) ** 2 * m / self.err_scale[h]
        total = err.sum(axis=1)
        contrib = err / np.where(total > 0, total, 1.0)[:, None]
        k = self.top_k
        if 0 < k < err.shape[1]:
            score = np.partition(err, err.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        else:
            score = total / err.shape[1]
        return ScoreResult(score, contrib, recon, y, m)

    @staticmethod
    def fit_err_scale(
        net: AutoencoderNet,
        spec: FeatureSpec,
        window: int,
        batches: list[tuple[np.ndarray, np.ndarray]],
        smooth_h: int = 3,
        floor: float = 0.25,
        method: str = "mean",
    ) -> tuple[np.ndarray, float]:
        """Per-hour mean (or median) squared error of each variable on fault-free batches.

        Args:
            batches: ``[(t_h: (T,), feats: (T, F_all)), ...]``.
            smooth_h: half-width (rows) of the moving window pooling neighbouring hours.
            floor: lower bound, as a share of the variable's overall mean squared error.
            method: ``mean`` or ``median`` (of the squared errors pooled per hour: a few
                unusual training batches do not inflate it).

        Returns:
            ``(err_scale: (H, V), dt_h)``.
        """
        dt = (
            float(np.median(np.concatenate([np.diff(t) for t, _ in batches if len(t) > 1])))
            if batches
            else 1.0
        )
        n_h = 1 + max(int(np.rint(t[-1] / dt)) for t, _ in batches)
        v = len(spec.variables)
        ones = AEScorer(net, spec, window, np.ones((1, v)), dt)
        se, n = np.zeros((n_h, v)), np.zeros((n_h, v))
        per_batch = np.full((len(batches), n_h, v), np.nan) if method == "median" else None
        for i, (t, f) in enumerate(batches):
            r = ones.score(f, t)
            h = np.clip(np.rint(t / dt).astype(int), 0, n_h - 1)
            e = (r.recon - r.target) ** 2 * r.mask
            np.add.at(se, h, e)
            np.add.at(n, h, r.mask)
            if per_batch is not None:
                per_batch[i, h] = np.where(r.mask > 0, e, np.nan)
        if per_batch is not None:
            return AEScorer._median_scale(per_batch, smooth_h, floor), dt
        k = np.ones(2 * smooth_h + 1)
        se_s = np.stack([np.convolve(se[:, j], k, mode="same") for j in range(v)], axis=1)
        n_s = np.stack([np.convolve(n[:, j], k, mode="same") for j in range(v)], axis=1)
        overall = se.sum(0) / np.maximum(n.sum(0), 1.0)
        scale = np.where(n_s > 0, se_s / np.maximum(n_s, 1.0), overall)
        return np.maximum(scale, np.maximum(floor * overall, 1e-6)), dt

    @staticmethod
    def _median_scale(per_batch: np.ndarray, smooth_h: int, floor: float) -> np.ndarray:
        """(H, V) median squared error over the batches' rows within ``smooth_h`` of each
        hour, from ``per_batch: (B, H, V)`` (NaN where unknown)."""
        n_h, v = per_batch.shape[1:]
        with warnings.catch_warnings():  # all-NaN slices (an assay not yet taken) -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmedian(per_batch.reshape(-1, v), axis=0)
            overall = np.where(np.isfinite(overall), overall, 1.0)
            scale = np.stack(
                [
                    np.nanmedian(
                        per_batch[:, max(0, h - smooth_h) : h + smooth_h + 1].reshape(-1, v),
                        axis=0,
                    )
                    for h in range(n_h)
                ]
            )
        scale = np.where(np.isfinite(scale), scale, overall)
        return np.maximum(scale, np.maximum(floor * overall, 1e-6))


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
