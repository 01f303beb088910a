"""The one forecast decode step: scaled network outputs -> forecasts in mL/h and mg/L.

Evaluation, prediction, the running-batch ``Monitor`` and the figures read
forecasts through here, so they cannot disagree: unscale with the fitted target scales,
clip what is physically impossible (a negative feed rate or titer; the quantile order is
kept), cut the trajectory at the harvest day and end it at the harvest forecast (one number
for the harvest titer everywhere), and pick the interval quantiles::

    out = decode(net_outputs, model.scales, model.horizon_days, model.harvest_day)
    lo, mid, hi = QuantilePick.of(model.net.quantiles)
    harvest_p10, harvest_median, harvest_p90 = out["harvest"][-1, [lo, mid, hi]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from forecaster.data.datasets import TargetScales


class QuantilePick(NamedTuple):
    """Positions of the lowest, the median and the highest quantile in a ``(..., Q)`` output.

    ``lo`` / ``hi`` bound the reported interval (p10 / p90 for the default quantiles).
    """

    lo: int
    mid: int
    hi: int

    @classmethod
    def of(cls, quantiles: Sequence[float]) -> QuantilePick:
        """Pick from the model's quantiles (must contain 0.5).

        Raises:
            ValueError: no median among ``quantiles``.
        """
        q = [float(x) for x in quantiles]
        if 0.5 not in q:
            raise ValueError(f"the forecaster's quantiles {q} have no median (0.5)")
        return cls(q.index(min(q)), q.index(0.5), q.index(max(q)))

    def take(self, values: np.ndarray) -> np.ndarray:
        """``(..., Q)`` -> ``(..., 3)``: lowest, median, highest quantile."""
        return np.asarray(values)[..., list(self)]


def decode(
    outputs: Mapping[str, np.ndarray],
    scales: TargetScales,
    horizon_days: int,
    harvest_day: int | None = None,
) -> dict[str, np.ndarray]:
    """Scaled network outputs -> forecasts in their units.

    Args:
        outputs: ``feed (...,)``, ``harvest (..., Q)``, ``trajectory (..., D, Q)`` as NumPy
            arrays in the model's scaled units (``ForecastNet`` outputs, any leading shape).
        scales: the fitted target scales.
        horizon_days: days of the trajectory that training covered; later days are dropped.
        harvest_day: culture day of the harvest (<= ``horizon_days``); the trajectory stops
            there and its value on that day is the harvest forecast. None: no harvest day.

    Returns:
        ``feed (...,)`` next feed rate, mL/h, >= 0 (float32 arithmetic, as the net's
        output); ``harvest (..., Q)`` harvest titer, mg/L, >= 0; ``trajectory
        (..., min(D, horizon_days, harvest_day), Q)`` titer on days 1.., mg/L, >= 0; on
        ``harvest_day`` it equals ``harvest``.
    """
    days = horizon_days if harvest_day is None else min(horizon_days, harvest_day)
    traj = np.array(outputs["trajectory"])[..., :days, :]
    harvest = np.asarray(outputs["harvest"])
    if harvest_day is not None and days == harvest_day and days > 0:
        # The harvest head is the forecast of the harvest-day titer; the trajectory head's own
        # guess of that day was a second, different number for the same thing.
        traj[..., days - 1, :] = harvest
    return {
        "feed": scales.feed_from_model(outputs["feed"]),
        "harvest": np.maximum(scales.titer_from_model(harvest), 0.0),
        "trajectory": np.maximum(scales.titer_from_model(traj), 0.0),
    }


def daily_trajectory(
    time_h: np.ndarray, trajectory: np.ndarray, pick: QuantilePick
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reported daily titer curve of one batch: fitted days behind, forecast days ahead.

    A day still ahead of the last row comes from the last row's trajectory. A day already
    behind it comes from the last row before that day's hour (a finished batch thus gets its
    whole fitted curve, not an empty one). The harvest day always comes from the last row,
    where :func:`decode` made it the harvest forecast, so the curve ends at that number.

    Args:
        time_h: ``(T,)`` hours of the rows, increasing.
        trajectory: ``(T, D, Q)`` decoded trajectories (D = the harvest day).
        pick: which quantiles to report.

    Returns:
        ``days (n,)`` culture days (1-based), ``values (n, 3)`` p10 / median / p90 titer in
        mg/L, ``fitted (n,)`` True for days at or before the last row.
    """
    time_h = np.asarray(time_h, dtype=float)
    n_days = trajectory.shape[1]
    days = np.arange(1, n_days + 1)
    day_h = 24.0 * days
    fitted = day_h <= time_h[-1] + 1e-9
    # the last row strictly before each day's hour (-1: none, the day precedes the data)
    before = np.searchsorted(time_h, day_h - 1e-9, side="left") - 1
    row = np.where(fitted, before, len(time_h) - 1)
    row[-1] = len(time_h) - 1  # the harvest day: the harvest forecast of the last row
    keep = row >= 0
    values = pick.take(trajectory[row[keep], days[keep] - 1])
    return days[keep], values, fitted[keep]


def rescale_to_harvest(
    harvest: np.ndarray,
    trajectory: np.ndarray,
    time_h: float,
    target: np.ndarray,
    pick: QuantilePick,
) -> tuple[np.ndarray, np.ndarray]:
    """One row's decoded forecast moved onto another harvest forecast, as one number.

    The harvest quantiles are scaled by ``r = target median / own median`` and the reported
    interval quantiles set to ``target``'s; the trajectory's days still ahead of ``time_h``
    are scaled by a factor that ramps from 1 at ``time_h`` to ``r`` at the harvest day (days
    already behind are data, and stay), and its harvest day is the new harvest forecast.

    Args:
        harvest: ``(Q,)`` decoded harvest quantiles (mg/L).
        trajectory: ``(D, Q)`` decoded trajectory of the same row; its last day is the harvest.
        time_h: hour of the row.
        target: ``(3,)`` interval low, median, interval high of the harvest (mg/L).
        pick: which quantiles are the reported interval and median.

    Returns:
        ``harvest (Q,)``, ``trajectory (D, Q)``: new arrays, quantiles sorted.
    """
    lo, mid, hi = pick
    harvest = np.asarray(harvest, dtype=float)
    own = float(harvest[mid])
    r = float(target[1]) / own if own > 0 else 1.0
    new_h = harvest * r
    new_h[lo], new_h[mid], new_h[hi] = (float(v) for v in target)
    new_h = np.sort(new_h)
    traj = np.array(trajectory, dtype=float, copy=True)
    n_days = traj.shape[0]
    if n_days:
        day_h = 24.0 * np.arange(1, n_days + 1)
        span = max(day_h[-1] - float(time_h), 1e-9)
        ahead = day_h > float(time_h) + 1e-9
        ramp = np.clip((day_h - float(time_h)) / span, 0.0, 1.0)
        factor = np.where(ahead, 1.0 + (r - 1.0) * ramp, 1.0)
        traj = np.sort(traj * factor[:, None], axis=1)
        traj[-1] = new_h
    return new_h, traj
