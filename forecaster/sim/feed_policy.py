"""Operator feed policies: pure, vectorised rules from the measured culture state to a feed rate.

A policy decides at every offline assay from the feed-start day on, from the values the operator
knows at that moment (the assay just taken, the current volume reading, the feed medium). The
simulator multiplies the decision by a lognormal operator noise and logs the result as
``feed_rate_mL_h`` at the decision row; the inputs are logged as ``policy_<variable>``.
``decide`` itself is deterministic, so other code can evaluate it on any inputs, e.g. to rank
the inputs' influence exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from forecaster.sim.config import FeedPolicyConfig


@dataclass(frozen=True)
class PolicyParams:
    """Policy parameters: the YAML ``feed`` section plus the decision interval (h)."""

    cfg: FeedPolicyConfig
    interval_h: float = 24.0


class FeedPolicy(Protocol):
    """What every policy exposes."""

    name: str
    inputs: tuple[str, ...]

    def decide(self, inputs: dict[str, np.ndarray], params: PolicyParams) -> np.ndarray:
        """(n,) feed rate (mL/h) from (n,) arrays keyed by the names in ``inputs``."""
        ...


@dataclass(frozen=True)
class GlucoseSetpointPolicy:
    """Continuous feed held until the next assay, replacing the expected glucose use.

    grams needed = q_est * VCD * V * interval + gain * (target - glucose) * V;
    rate (mL/h) = grams / feed glucose (g/L) * 1000 / interval, clipped to [0, max_rate].
    """

    name: str = "glucose_setpoint"
    inputs: tuple[str, ...] = ("glucose_g_L", "vcd_1e6_cells_mL", "volume_L", "feed_glucose_g_L")

    def decide(self, inputs: dict[str, np.ndarray], params: PolicyParams) -> np.ndarray:
        c, h = params.cfg, params.interval_h
        vol = inputs["volume_L"]
        # pg/cell/day x (1e6 cells/mL x L = 1e9 cells) = 1e-3 g/day.
        use_g = c.q_glc_est_pg_cell_day * 1e-3 * inputs["vcd_1e6_cells_mL"] * vol * h / 24.0
        gap_g = c.correction_gain * (c.target_glucose_g_L - inputs["glucose_g_L"]) * vol
        ml = (use_g + gap_g) / np.maximum(inputs["feed_glucose_g_L"], 1e-9) * 1000.0
        return np.clip(ml / h, 0.0, c.max_rate_mL_h)


@dataclass(frozen=True)
class ContinuousPolicy:
    """Continuous feed of ``continuous_pct_per_day`` % of the volume per day, scaled by VCD.

    rate (mL/h) = pct/100 * V * 1000 / 24 * clip(VCD / vcd_ref, 0.5, 2).
    """

    name: str = "continuous"
    inputs: tuple[str, ...] = ("vcd_1e6_cells_mL", "volume_L")

    def decide(self, inputs: dict[str, np.ndarray], params: PolicyParams) -> np.ndarray:
        c = params.cfg
        scale = np.clip(inputs["vcd_1e6_cells_mL"] / c.continuous_vcd_ref, 0.5, 2.0)
        rate = c.continuous_pct_per_day / 100.0 * inputs["volume_L"] * 1000.0 / 24.0 * scale
        return np.clip(rate, 0.0, c.max_rate_mL_h)


@dataclass(frozen=True)
class DailyBolusPolicy:
    """A bolus at each assay, delivered over ``bolus_duration_h`` (the rate during it).

    volume (mL) = pct/100 * V * 1000 * clip(1 + gain * (target - glucose), 0, 2).
    """

    name: str = "daily_bolus"
    inputs: tuple[str, ...] = ("glucose_g_L", "volume_L")

    def decide(self, inputs: dict[str, np.ndarray], params: PolicyParams) -> np.ndarray:
        c = params.cfg
        adj = np.clip(
            1.0 + c.bolus_glucose_gain * (c.target_glucose_g_L - inputs["glucose_g_L"]), 0, 2
        )
        ml = c.bolus_pct / 100.0 * inputs["volume_L"] * 1000.0 * adj
        return np.maximum(ml / c.bolus_duration_h, 0.0)


POLICIES: dict[str, FeedPolicy] = {
    p.name: p for p in (GlucoseSetpointPolicy(), ContinuousPolicy(), DailyBolusPolicy())
}


def get_policy(name: str) -> FeedPolicy:
    """The policy called ``name``; raises ValueError listing the valid names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown feed policy {name!r}; expected one of {', '.join(POLICIES)}"
        ) from None
