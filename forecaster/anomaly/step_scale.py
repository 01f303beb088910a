"""The autoencoder's error scale conditioned on the hours since the last set-point step.

A planned set-point step (the temperature shift of a CHO fed-batch, 36.8 -> 31-34 C on day
3-6) moves more than the stepped reading: the cells' oxygen uptake falls with the
temperature, so the DO cascade (agitation, air) and the pH loop (CO2, base) follow over the
next hours. The per-hour error scale (:meth:`~forecaster.anomaly.scores.AEScorer.
fit_err_scale`) pools batches whose steps fall on different days, so the errors of that
normal transient stand out against it and raise false alarms at the step.

The step scale is a ``(S, V)`` factor: for ``s = 0 .. S-1`` rows after the most recent
change of any set point the detector reads (the settling clocks of the
:class:`~forecaster.anomaly.features.FeatureSpec`: causal, known the moment the set point
is changed), each scored variable's mean normalised squared error on fault-free batches at
``s`` rows after their step, over its mean elsewhere on the same batches (pooled with the
neighbouring rows, never below 1). The autoencoder divides each variable's error by it.
A variable the step does not disturb keeps a factor of about 1 (full sensitivity), and a
disturbed one is scaled by how much the normal step disturbs it, no more: a fault at shift
time that moves a reading further than normal shifts do still alarms. This is not a
blanket pause after the step (the ``setpoint_transient_h`` mask does that for the stepped
reading alone, for its first hours).
"""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.features import SETTLE_TAU_H, FeatureSpec

#: Rows pooled on each side of a row of the step scale (as ``fit_err_scale`` pools hours).
SMOOTH_ROWS = 1
#: Rows after a step with fewer errors than this (all variables, all batches) keep factor 1.
MIN_ROWS = 20


def hours_since_step(spec: FeatureSpec, feats: np.ndarray) -> np.ndarray:
    """(T,) hours since the most recent set-point change of any deviation variable.

    Read from the settling clocks ``exp(-hours / SETTLE_TAU_H)`` (the last
    ``len(spec.dev_vars)`` columns of ``feats: (T, F_all)``); ``inf`` before any change
    (and once the float32 clock has decayed to 0, after about 200 h).
    """
    if not spec.dev_vars:
        return np.full(len(feats), np.inf)
    clocks = feats[:, feats.shape[1] - len(spec.dev_vars) :].astype(np.float64)
    with np.errstate(divide="ignore"):
        return -SETTLE_TAU_H * np.log(clocks.max(axis=1))


def step_rows(since_h: np.ndarray, dt_h: float, n_rows: int) -> np.ndarray:
    """(T,) row of the step scale for each row (``round(hours / dt_h)``), -1 outside it."""
    with np.errstate(invalid="ignore"):
        r = np.rint(np.asarray(since_h, float) / dt_h)
    ok = np.isfinite(r) & (r >= 0) & (r < n_rows)
    return np.where(ok, r, -1).astype(int)


def fit_step_scale(
    batches: list[tuple[np.ndarray, np.ndarray]], dt_h: float, window_h: float
) -> np.ndarray | None:
    """Fit the ``(S, V)`` step scale on fault-free batches.

    Args:
        batches: per batch ``(since_h: (T,), err: (T, V))``: hours since the last set-point
            step (:func:`hours_since_step`) and each variable's normalised squared error
            (error / per-hour scale; 0 where unknown, NaN rows are ignored).
        dt_h: hours per row.
        window_h: hours after a step covered (``S = round(window_h / dt_h)`` rows).

    Returns:
        The factors (>= 1), or None when no batch has a step or ``window_h`` is 0.
    """
    n = int(round(window_h / dt_h))
    if n <= 0 or not batches:
        return None
    v = batches[0][1].shape[1]
    s_in, c_in = np.zeros((n, v)), np.zeros((n, v))
    s_out, c_out = np.zeros(v), np.zeros(v)
    for since, err in batches:
        err = np.asarray(err, float)
        ok = np.isfinite(err)
        e = np.where(ok, err, 0.0)
        r = step_rows(since, dt_h, n)
        inside = r >= 0
        np.add.at(s_in, r[inside], e[inside])
        np.add.at(c_in, r[inside], ok[inside])
        s_out += e[~inside].sum(axis=0)
        c_out += ok[~inside].sum(axis=0)
    if c_in.sum() == 0 or np.any(c_out == 0):
        return None
    k = np.ones(2 * SMOOTH_ROWS + 1)
    s_in = np.stack([np.convolve(s_in[:, j], k, mode="same") for j in range(v)], axis=1)
    c_in = np.stack([np.convolve(c_in[:, j], k, mode="same") for j in range(v)], axis=1)
    ref = s_out / c_out
    ratio = np.where(c_in >= MIN_ROWS, s_in / np.maximum(c_in, 1.0), 0.0) / np.maximum(ref, 1e-12)
    return np.maximum(ratio, 1.0)


def step_factor(
    scale: np.ndarray | None, dt_h: float, since_h: np.ndarray, n_vars: int
) -> np.ndarray:
    """(T, V) factor dividing each variable's error at rows ``since_h: (T,)`` hours after
    the last step (1 outside the scale, or everywhere without one)."""
    out = np.ones((len(since_h), n_vars))
    if scale is None or len(scale) == 0:
        return out
    r = step_rows(since_h, dt_h, len(scale))
    out[r >= 0] = scale[r[r >= 0]]
    return out
