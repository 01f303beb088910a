"""The one forecast decode step: scaled network outputs -> forecasts in mL/h and mg/L.

Evaluation, prediction, the :class:`~forecaster.serve.monitor.Monitor` and the figures read
forecasts through here, so they cannot disagree: unscale with the fitted target scales,
clip what is physically impossible (a negative feed rate or titer; the quantile order is
kept), cut the trajectory at the days training covered, and pick the interval quantiles::

    out = decode(net_outputs, model.scales, model.horizon_days)
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
    outputs: Mapping[str, np.ndarray], scales: TargetScales, horizon_days: int
) -> dict[str, np.ndarray]:
    """Scaled network outputs -> forecasts in their units.

    Args:
        outputs: ``feed (...,)``, ``harvest (..., Q)``, ``trajectory (..., D, Q)`` as NumPy
            arrays in the model's scaled units (``ForecastNet`` outputs, any leading shape).
        scales: the fitted target scales.
        horizon_days: days of the trajectory that training covered; later days are dropped.

    Returns:
        ``feed (...,)`` next feed rate, mL/h, >= 0 (float32 arithmetic, as the net's
        output); ``harvest (..., Q)`` harvest titer, mg/L, >= 0; ``trajectory
        (..., min(D, horizon_days), Q)`` titer on days 1.., mg/L, >= 0.
    """
    traj = np.asarray(outputs["trajectory"])[..., :horizon_days, :]
    return {
        "feed": scales.feed_from_model(outputs["feed"]),
        "harvest": np.maximum(scales.titer_from_model(outputs["harvest"]), 0.0),
        "trajectory": np.maximum(scales.titer_from_model(traj), 0.0),
    }
