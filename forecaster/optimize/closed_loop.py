"""Feed planners in closed loop on the simulator: three arms on the same hidden batches.

(i) ``default``: the recipe with the operator's feed policy; (ii) ``tool``: a planner that
sees only the plant data (the batch rows so far and the recipe), re-planning at every
decision; (iii) ``oracle``: the same search with the batch's true simulator parameters.
Every arm keeps each batch's hidden culture parameters and noise (``sim.closed_loop``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.optimize.feed_plan import FeedPlanner, MechanisticPlanner
from forecaster.optimize.feed_plan_data import FeedConstraints, Recipe
from forecaster.optimize.mechanistic_fit import ESTIMATED
from forecaster.sim.closed_loop import Controller, Decision, simulate_closed_loop
from forecaster.sim.config import SimConfig
from forecaster.sim.result import SimResult
from forecaster.sim.simulate import simulate


def recipes_from_batches(batches: pd.DataFrame) -> dict[str, Recipe]:
    """batch_id -> the recipe each simulated batch was started with (plant knowledge)."""
    return {
        str(b[schema.BATCH_ID]): Recipe(
            run_length_h=float(b["run_length_h"]),
            feed_start_h=float(b["feed_start_h"]),
            shift_h=float(b["temperature_shift_h"]),
            temperature_pre_C=float(b["temperature_pre_shift_C"]),
            temperature_post_C=float(b["temperature_post_shift_C"]),
            feed_glucose_g_L=float(b["feed_glucose_g_L"]),
            do_setpoint_pct=float(b["do_setpoint_pct"]),
            ph_setpoint=float(b["ph_setpoint"]),
        )
        for _, b in batches.iterrows()
    }


def true_params(batches: pd.DataFrame) -> dict[str, dict[str, float]]:
    """batch_id -> the hidden parameters the model reads (for the oracle)."""
    names = [n for n in ESTIMATED if n != "xv0_scale"]
    names += ["temperature_pre_shift_C", "temperature_post_shift_C", "qo2_pmol_cell_h"]
    return {str(b[schema.BATCH_ID]): {n: float(b[n]) for n in names} for _, b in batches.iterrows()}


def planner_controller(
    planner: FeedPlanner,
    recipes: dict[str, Recipe],
    constraints: FeedConstraints,
    timings: list[float] | None = None,
) -> Controller:
    """A closed-loop controller that asks ``planner`` for every running, feeding batch.

    Before the recipe's feed start and after harvest the operator's policy stands (it feeds
    nothing then). ``timings`` collects the seconds each plan took.
    """
    import time

    def decide(t_h: float, visible: pd.DataFrame) -> Decision:
        ids = sorted(recipes)
        rate = np.full(len(ids), np.nan)
        shift = np.full(len(ids), np.nan)
        groups = dict(tuple(visible.groupby(schema.BATCH_ID, sort=True)))
        for j, bid in enumerate(ids):
            r = recipes[bid]
            if t_h < r.feed_start_h - 1e-9 or t_h >= r.run_length_h - 1e-9:
                continue
            start = time.perf_counter()
            plan = planner.plan(groups[bid], r, None)
            if timings is not None:
                timings.append(time.perf_counter() - start)
            rate[j] = float(np.clip(plan.feed_mL_h[0], 0.0, constraints.feed_max_mL_h))
            shift[j] = plan.shift_h
        return Decision(rate, shift)

    return decide


def run_arms(
    cfg: SimConfig,
    n_batches: int,
    seed: int,
    constraints: FeedConstraints | None = None,
    arms: tuple[str, ...] = ("default", "tool", "oracle"),
) -> tuple[dict[str, SimResult], dict[str, list[float]]]:
    """Simulate each arm on the same batches; returns results and per-plan seconds by arm."""
    cons = constraints or FeedConstraints()
    base = simulate(cfg, n_batches=n_batches, seed=seed, keep_truth=True)
    recipes = recipes_from_batches(base.batches)
    out, timings = {"default": base}, {}
    for arm in arms:
        if arm == "default":
            continue
        known = true_params(base.batches) if arm == "oracle" else None
        planner = MechanisticPlanner(cons, cfg, known_params=known)
        timings[arm] = []
        ctl = planner_controller(planner, recipes, cons, timings[arm])
        out[arm] = simulate_closed_loop(cfg, ctl, n_batches, seed, keep_truth=True)
    return out, timings


def violations(res: SimResult, recipes: dict[str, Recipe], cons: FeedConstraints) -> pd.Series:
    """batch_id -> number of constraint breaches (true states, from feed start to harvest).

    Counts hours with true glucose outside [min, max], with volume above the working
    volume, and hours with a feed rate outside [0, max].
    """
    tr = res.truth
    if tr is None:
        raise ValueError("the result has no noise-free states; simulate with keep_truth=True")
    start = tr[schema.BATCH_ID].map({k: r.feed_start_h for k, r in recipes.items()})
    fed = tr[tr[schema.TIME] >= start]
    bad = (
        (fed["glucose_g_L"] < cons.glucose_min_g_L)
        | (fed["glucose_g_L"] > cons.glucose_max_g_L)
        | (fed["volume_L"] > cons.working_volume_L)
        | (fed["feed_rate_mL_h"] > cons.feed_max_mL_h * 1.2)  # operator noise on the pump
        | (fed["feed_rate_mL_h"] < 0)
    )
    return bad.groupby(fed[schema.BATCH_ID]).sum().reindex(sorted(recipes), fill_value=0)


def summary(results: dict[str, SimResult], cons: FeedConstraints) -> dict[str, float]:
    """The closed-loop figures: gains of tool and oracle over default, shares, violations."""
    recipes = recipes_from_batches(results["default"].batches)
    titer = {a: r.batches.set_index(schema.BATCH_ID)["harvest_titer_true_mg_L"]
             for a, r in results.items()}  # fmt: skip
    d = titer["default"]
    out: dict[str, float] = {"n_batches": float(d.size)}
    for arm, r in results.items():
        v = violations(r, recipes, cons)
        out[f"{arm}_mean_titer_mg_L"] = float(titer[arm].mean())
        out[f"{arm}_violating_batches"] = float((v > 0).sum())
        out[f"{arm}_violation_hours"] = float(v.sum())
        if arm == "default":
            continue
        gain = 100.0 * (titer[arm] / d - 1.0)
        out[f"{arm}_mean_gain_pct"] = float(gain.mean())
        out[f"{arm}_median_gain_pct"] = float(gain.median())
        out[f"{arm}_share_improved"] = float((gain > 0).mean())
    if "tool" in results and "oracle" in results:
        out["share_of_oracle_gain"] = out["tool_mean_gain_pct"] / max(
            out["oracle_mean_gain_pct"], 1e-9
        )
    return out
