"""Closed loop: drive simulated batches with a controller that sees only plant data.

At every assay decision (``k * assay_interval_h``) the controller receives the batch table up
to that moment -- what a plant would have logged, without fault labels or hidden
parameters -- and returns feed rates (and optionally new temperature-shift times). The
simulator is causal and every random draw is fixed by the seed, so re-simulating the whole
run with the decisions taken so far reproduces the history exactly and yields the data up to
the next decision; decisions not yet taken do not influence it. Each batch keeps the same
hidden culture parameters and noise whatever the controller does, so arms are comparable
batch by batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.sim.config import SimConfig
from forecaster.sim.result import SimResult
from forecaster.sim.schedule import FeedSchedule
from forecaster.sim.simulate import simulate

#: Columns a controller never sees (ground truth of the simulator).
HIDDEN_COLUMNS = (schema.FAULT_LABEL, schema.FAULT_TYPE)


@dataclass(frozen=True)
class Decision:
    """A controller's decision at one decision time, for every batch.

    Attributes:
        feed_mL_h: (n,) feed rate (mL/h) until the next decision; NaN = the operator policy.
        shift_h: (n,) new temperature-shift time (h), or NaN to keep the planned one; only
            taken while the shift has not happened yet, and never earlier than the next row.
    """

    feed_mL_h: np.ndarray
    shift_h: np.ndarray | None = None


#: controller(decision time h, visible batch table) -> Decision for every batch, in the
#: order of the table's batch ids (sorted).
Controller = Callable[[float, pd.DataFrame], Decision]


def simulate_closed_loop(
    cfg: SimConfig,
    controller: Controller,
    n_batches: int | None = None,
    seed: int | None = None,
    keep_truth: bool = False,
) -> SimResult:
    """Simulate batches whose feeds (and shift times) a controller decides as data arrive.

    Args:
        cfg: simulator configuration (as for ``simulate``).
        controller: called at every decision time with the table rows up to that time.
        n_batches, seed: override ``cfg`` as in ``simulate``.
        keep_truth: return the noise-free states too (as in ``simulate``).

    Returns:
        SimResult of the closed-loop run (the table's ``feed_rate_mL_h`` and
        ``temperature_setpoint_C`` carry the decisions as executed).
    """
    changes = {k: v for k, v in (("n_batches", n_batches), ("seed", seed)) if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    n = cfg.n_batches
    n_dec = int(np.floor(cfg.run_length_days * 24.0 / cfg.assay_interval_h + 1e-9)) + 1
    n_dec += int(np.ceil(cfg.run_length_spread_days * 24.0 / cfg.assay_interval_h))
    feed = np.full((n_dec, n), np.nan)
    shift = np.full(n, np.nan)
    res = simulate(cfg, schedule=FeedSchedule(feed.copy(), shift.copy()))
    recipe_shift = res.batches["temperature_shift_h"].to_numpy(dtype=float)
    run_h = res.batches["run_length_h"].to_numpy(dtype=float)
    for k in range(n_dec):
        t = k * cfg.assay_interval_h
        if not np.any(run_h > t + 1e-9):
            break
        visible = res.table[res.table[schema.TIME] <= t + 1e-9].drop(columns=list(HIDDEN_COLUMNS))
        d = controller(t, visible)
        rate = np.asarray(d.feed_mL_h, dtype=float)
        if rate.shape != (n,):
            raise ValueError(f"controller returned {rate.shape} feed rates; expected ({n},)")
        feed[k] = rate
        if d.shift_h is not None:
            planned = np.where(np.isnan(shift), recipe_shift, shift)
            new = np.asarray(d.shift_h, dtype=float)
            take = ~np.isnan(new) & (planned > t + 1e-9)
            shift = np.where(take, np.maximum(new, t + cfg.sample_interval_h), shift)
        res = simulate(cfg, schedule=FeedSchedule(feed.copy(), shift.copy()))
    if keep_truth:
        res = simulate(cfg, schedule=FeedSchedule(feed, shift), keep_truth=True)
    return res


def operator_controller(cfg: SimConfig) -> Controller:
    """The operator's own policy as a controller (reproduces the default run exactly)."""
    from forecaster.sim.feed_policy import PolicyParams, get_policy

    policy = get_policy(cfg.feed_policy)
    params = PolicyParams(cfg.feed, cfg.assay_interval_h)

    def decide(t_h: float, visible: pd.DataFrame) -> Decision:
        now = visible[np.isclose(visible[schema.TIME].to_numpy(), t_h)]
        seen = {name: now[name].to_numpy(dtype=float) for name in policy.inputs}
        return Decision(policy.decide(seen, params))

    return decide
