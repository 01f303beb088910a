"""In-batch feed plans: the rest-of-run feed schedule (and shift) that maximises harvest titer.

A :class:`FeedPlanner` turns one running batch's rows (what the plant has logged so far) and
its recipe into a :class:`FeedPlan`. Called again as new data arrive, it re-plans (receding
horizon): only the first interval of each plan is meant to be executed.

:class:`MechanisticPlanner` is for processes with a mechanistic model -- the CHO preset: it
estimates the batch's uncertain culture parameters from the measurements so far
(``mechanistic_fit``), then searches the feed schedule and shift time with that model
(``feed_plan_search``). A data-driven planner for other processes would implement the same
protocol. Example::

    planner = MechanisticPlanner()
    plan = planner.plan(rows_so_far, recipe, process)
    plan.feed_mL_h[0]   # feed rate to set now (mL/h), until the next decision
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError
from forecaster.optimize import feed_plan_search as search
from forecaster.optimize.feed_plan_data import (
    FeedConstraints,
    Recipe,
    history_from_rows,
    recipe_from_rows,
)
from forecaster.optimize.mechanistic_fit import fit_parameters, replay
from forecaster.sim.config import SimConfig

__all__ = ["FeedConstraints", "FeedPlan", "FeedPlanner", "MechanisticPlanner", "Recipe",
           "plan_feeds"]  # fmt: skip


@dataclass(frozen=True)
class FeedPlan:
    """The plan for the rest of one batch.

    Attributes:
        batch_id: the batch.
        now_h: time of the latest data the plan saw (h).
        time_h: (k,) start of each decision interval from now to harvest (h).
        feed_mL_h: (k,) feed rate over each interval (mL/h); execute the first one.
        temperature_setpoint_C: (k,) temperature set point at the start of each interval.
        shift_h: planned shift time (h); NaN when the shift already happened before now.
        glucose_target_g_L: the glucose level the schedule holds (g/L).
        predicted_titer_mg_L: model harvest titer with this plan (mg/L).
        predicted_titer_default_mg_L: model harvest titer with the recipe's shift and the
            usual glucose target (mg/L).
        feasible: the model trajectory keeps every constraint with its margins.
        params: the model parameters used (estimated, or given for an oracle).
    """

    batch_id: str
    now_h: float
    time_h: np.ndarray
    feed_mL_h: np.ndarray
    temperature_setpoint_C: np.ndarray
    shift_h: float
    glucose_target_g_L: float
    predicted_titer_mg_L: float
    predicted_titer_default_mg_L: float
    feasible: bool
    params: dict[str, float] = field(default_factory=dict)


class FeedPlanner(Protocol):
    """What every feed planner exposes."""

    def plan(self, batch_rows: pd.DataFrame, recipe: Recipe, process: object) -> FeedPlan:
        """Plan the rest of the batch whose rows so far are ``batch_rows``."""
        ...


class MechanisticPlanner:
    """Estimate-then-optimise planner on the CHO mechanistic model (see module docstring).

    Args:
        constraints: limits every plan keeps.
        sim_config: source of the priors (``variability``) and the kinetic constants.
        settings: search grid and margins.
        known_params: batch_id -> true parameters (each a float): an oracle that skips the
            estimation (simulation studies only).
    """

    def __init__(
        self,
        constraints: FeedConstraints | None = None,
        sim_config: SimConfig | None = None,
        settings: search.SearchSettings | None = None,
        known_params: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.constraints = constraints or FeedConstraints()
        self.cfg = sim_config or SimConfig()
        self.settings = settings or search.SearchSettings()
        self.known_params = known_params
        self._z: dict[str, np.ndarray] = {}  # warm starts of the estimation, per batch

    def plan(self, batch_rows: pd.DataFrame, recipe: Recipe, process: object = None) -> FeedPlan:
        """Plan the rest of one batch from its rows so far (see :class:`FeedPlan`)."""
        bid = str(batch_rows[schema.BATCH_ID].iloc[0]) if schema.BATCH_ID in batch_rows else ""
        hist = history_from_rows(batch_rows, bid)
        kin = self.cfg.kinetics
        if self.known_params is not None:
            p = _oracle_params(self.known_params, bid)
        else:
            fit = fit_parameters(hist, recipe, self.cfg.variability, kin, self._z.get(bid))
            self._z[bid] = fit.z
            p = fit.p
        rec = replay(p, hist, recipe, kin)
        x_now = _assimilate({k: v[-1] for k, v in rec.items() if k != "feed"}, batch_rows)
        now = hist.now_h
        base = float(np.mean(hist.base_mL_h[-24:])) if now else 0.0
        shifted = np.flatnonzero(hist.temp_sp_C < recipe.temperature_pre_C - 0.05)
        pending = shifted.size == 0
        if not pending:
            recipe = _with_shift(recipe, float(shifted[0]))
        targets, shifts = search.candidate_grid(now, recipe, pending, self.settings)
        dflt_shift = max(recipe.shift_h, now + 1.0) if pending else recipe.shift_h
        targets = np.append(targets, self.settings.default_target_g_L)
        shifts = np.append(shifts, dflt_shift)
        c = search.simulate_candidates(
            p, x_now, now, recipe, targets, shifts, base, self.constraints, kin, self.settings
        )
        i = search.best(c)
        temps = np.where(c.knots_h >= c.shift_h[i] - 1e-9, recipe.temperature_post_C,
                         recipe.temperature_pre_C)  # fmt: skip
        return FeedPlan(
            batch_id=bid,
            now_h=float(now),
            time_h=c.knots_h,
            feed_mL_h=c.feed_mL_h[:, i],
            temperature_setpoint_C=temps,
            shift_h=float(c.shift_h[i]) if pending else float(recipe.shift_h),
            glucose_target_g_L=float(c.target_g_L[i]),
            predicted_titer_mg_L=float(c.titer_mg_L[i]),
            predicted_titer_default_mg_L=float(c.titer_mg_L[-1]),
            feasible=bool(c.feasible[i]),
            params={k: float(np.asarray(v).ravel()[0]) for k, v in p.items()},
        )


def _assimilate(x: dict[str, np.ndarray], rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model state at now with glucose and volume set to the latest measurements.

    The model replays the whole run open loop; a week of small mismatches moves its glucose
    by a g/L or more, while the glucose assay and the volume reading are accurate (CV 3 %,
    5 mL), and the feed decision hinges on them.
    """
    last = rows.sort_values(schema.TIME).iloc[-1]
    x = dict(x)
    for state, col in (("glc", "glucose_g_L"), ("vol", "volume_L")):
        v = float(last[col]) if col in rows.columns else float("nan")
        if np.isfinite(v):
            x[state] = np.array([v])
    return x


def _oracle_params(known: dict[str, dict[str, float]], bid: str) -> dict[str, np.ndarray]:
    if bid not in known:
        raise KeyError(f"no known parameters for batch {bid!r}")
    p = {k: np.array([float(v)]) for k, v in known[bid].items()}
    p.setdefault("xv0_scale", np.array([1.0]))
    return p


def _with_shift(recipe: Recipe, shift_h: float) -> Recipe:
    from dataclasses import replace

    return replace(recipe, shift_h=shift_h)


def plan_feeds(
    table: pd.DataFrame,
    process: object = None,
    recipes: dict[str, Recipe] | None = None,
    planner: FeedPlanner | None = None,
    default_recipe: Recipe | None = None,
) -> pd.DataFrame:
    """Feed plans for every batch of a table (each batch planned from all its rows).

    Args:
        table: batch table of running batches (CHO columns, see ``feed_plan_data.REQUIRED``).
        process: the process definition (``forecaster.data.process.Process``); its feed
            variable names the feed column of the result (default ``feed_rate_mL_h``).
        recipes: batch_id -> Recipe; batches without one get ``recipe_from_rows`` with
            ``default_recipe`` (the CHO preset's typical recipe) for what the rows do not show.
        planner: default :class:`MechanisticPlanner`.
        default_recipe: fallback recipe values.

    Returns:
        DataFrame, one row per batch and decision interval: batch_id, time_h, the feed
        column (mL/h), temperature_setpoint_C, glucose_target_g_L, predicted_titer (mg/L,
        with the plan), predicted_titer_default (mg/L, recipe as usual).

    Raises:
        DataError: a batch lacks a column the planner needs.
    """
    if schema.BATCH_ID not in table.columns:
        raise DataError(f"the table has no {schema.BATCH_ID!r} column; expected one per batch")
    feed_col = getattr(process, "feed", None) or schema.FEED
    planner = planner or MechanisticPlanner()
    fallback = default_recipe or typical_recipe()
    out = []
    for bid, rows in table.groupby(schema.BATCH_ID, sort=True):
        recipe = (recipes or {}).get(str(bid)) or recipe_from_rows(rows, fallback)
        plan = planner.plan(rows, recipe, process)
        out.append(pd.DataFrame({
            schema.BATCH_ID: str(bid),
            schema.TIME: plan.time_h,
            feed_col: plan.feed_mL_h,
            "temperature_setpoint_C": plan.temperature_setpoint_C,
            "glucose_target_g_L": plan.glucose_target_g_L,
            "predicted_titer": plan.predicted_titer_mg_L,
            "predicted_titer_default": plan.predicted_titer_default_mg_L,
        }))  # fmt: skip
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def typical_recipe(cfg: SimConfig | None = None) -> Recipe:
    """The CHO preset's typical recipe (the means of the simulator's recipe draws)."""
    cfg = cfg or SimConfig()
    v = cfg.variability
    return Recipe(
        run_length_h=cfg.run_length_days * 24.0,
        feed_start_h=np.ceil(v.feed_start_day.mean) * 24.0,
        shift_h=v.temperature_shift_day.mean * 24.0,
        temperature_pre_C=v.temperature_pre_shift_C.mean,
        temperature_post_C=v.temperature_post_shift_C.mean,
        feed_glucose_g_L=v.feed_glucose_g_L.mean,
        do_setpoint_pct=v.do_setpoint_pct.mean,
        ph_setpoint=v.ph_setpoint.mean,
    )
