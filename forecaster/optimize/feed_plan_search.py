"""Search for the rest-of-run feed schedule and shift time that maximise predicted titer.

Candidates: a glucose target (g/L) held for the rest of the run, times a shift time (every
``shift_step_h`` from the next hour to harvest, harvest = no shift) when the shift has not
happened yet. A target becomes a feed rate at each decision (every ``decision_interval_h``):
the model's glucose use over the interval plus the gap to the target, as grams of feed
glucose, clipped to the pump's range; so every candidate is a piecewise-constant feed
schedule with one knot per decision. All candidates are simulated at once (one vectorised
model run); those whose model trajectory leaves the constraints (glucose range, working
volume, with margins) are dropped, and the highest predicted harvest titer wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.optimize.feed_plan_data import FeedConstraints, Recipe
from forecaster.optimize.mechanistic import Setpoints, glucose_use_g_h, integrate
from forecaster.sim.config import Kinetics

GLUCOSE_TARGETS_G_L = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
DEFAULT_TARGET_G_L = 5.0  # the operator's usual set point (the comparison plan)


@dataclass(frozen=True)
class SearchSettings:
    """Search grid and safety margins.

    Attributes:
        glucose_targets_g_L: candidate glucose targets.
        shift_step_h: spacing of candidate shift times (h).
        glucose_margin_g_L: the model trajectory must stay this far inside the glucose range.
        volume_margin_L: ... and this far below the working volume.
        default_target_g_L: glucose target of the comparison plan (the recipe as run).
    """

    glucose_targets_g_L: tuple[float, ...] = GLUCOSE_TARGETS_G_L
    shift_step_h: float = 12.0
    glucose_margin_g_L: float = 0.5
    volume_margin_L: float = 0.05
    default_target_g_L: float = DEFAULT_TARGET_G_L


@dataclass(frozen=True)
class Candidates:
    """Simulated candidates: targets, shifts (m,), knots (k, m), titer (m,), feasible (m,)."""

    target_g_L: np.ndarray
    shift_h: np.ndarray
    knots_h: np.ndarray
    feed_mL_h: np.ndarray
    titer_mg_L: np.ndarray
    feasible: np.ndarray
    glucose_min_g_L: np.ndarray
    volume_max_L: np.ndarray
    violation: np.ndarray


def simulate_candidates(
    p: dict[str, np.ndarray],
    x_now: dict[str, np.ndarray],
    now_h: int,
    recipe: Recipe,
    targets: np.ndarray,
    shifts: np.ndarray,
    base_mL_h: float,
    cons: FeedConstraints,
    kin: Kinetics,
    settings: SearchSettings,
) -> Candidates:
    """Simulate each (target, shift) column from ``now_h`` to harvest.

    Args:
        p: parameters, each (1,) (one batch's estimate) -- broadcast to the candidates.
        x_now: model state at ``now_h``, each (1,).
        targets, shifts: (m,) candidate glucose targets (g/L) and shift times (h).
    """
    m = targets.size
    pc = {k: np.repeat(np.asarray(v, float), m) for k, v in p.items()}
    x0 = {k: np.repeat(np.asarray(v, float), m) for k, v in x_now.items()}
    end = int(round(recipe.run_length_h))
    hours = max(end - now_h, 0)
    interval = int(round(cons.decision_interval_h))
    sp = Setpoints(recipe.do_setpoint_pct, recipe.ph_setpoint, recipe.feed_glucose_g_L, base_mL_h)
    pre, post = recipe.temperature_pre_C, recipe.temperature_post_C

    def temp(h: int) -> np.ndarray:
        return np.where(h >= shifts - 1e-9, post, pre)

    state = {"rate": np.zeros(m)}

    def feed(h: int, x: dict[str, np.ndarray]) -> np.ndarray:
        if h < recipe.feed_start_h - 1e-9:
            return np.zeros(m)
        if (h - now_h) % interval == 0 or not np.any(state["rate"]):
            use = glucose_use_g_h(x, pc, kin, temp(h), sp) * interval
            grams = use + (targets - x["glc"]) * x["vol"]
            rate = grams / max(recipe.feed_glucose_g_L, 1e-9) * 1000.0 / interval
            state["rate"] = np.clip(rate, 0.0, cons.feed_max_mL_h)
        return state["rate"]

    rec = integrate(pc, x0, now_h, hours, feed, temp, sp, kin)
    knots = np.arange(now_h, end, interval, dtype=float)
    feed_knots = rec["feed"][(knots - now_h).astype(int)] if knots.size else np.zeros((0, m))
    glc = rec["glc"][1:] if hours else rec["glc"]
    g_min, g_max = glc.min(axis=0), glc.max(axis=0)
    v_max = rec["vol"].max(axis=0)
    gm = settings.glucose_margin_g_L
    bad = (
        np.maximum(cons.glucose_min_g_L + gm - g_min, 0.0)
        + np.maximum(g_max - cons.glucose_max_g_L + gm, 0.0)
        + 10.0 * np.maximum(v_max - cons.working_volume_L + settings.volume_margin_L, 0.0)
    )
    titer = rec["titer"][-1]
    return Candidates(targets, shifts, knots, feed_knots, titer, bad <= 0.0, g_min, v_max, bad)


def candidate_grid(
    now_h: int, recipe: Recipe, shift_pending: bool, settings: SearchSettings
) -> tuple[np.ndarray, np.ndarray]:
    """(m,) targets and shift times of the search grid (the recipe's shift included)."""
    end = recipe.run_length_h
    if shift_pending:
        first = now_h + 1.0
        grid = np.arange(np.ceil(first / settings.shift_step_h) * settings.shift_step_h, end,
                         settings.shift_step_h)  # fmt: skip
        shifts = np.unique(np.concatenate([[first, end], grid, [max(recipe.shift_h, first)]]))
    else:
        shifts = np.array([recipe.shift_h])
    t = np.asarray(settings.glucose_targets_g_L, dtype=float)
    tt, ss = np.meshgrid(t, shifts, indexing="ij")
    return tt.ravel(), ss.ravel()


def best(c: Candidates) -> int:
    """Index of the best candidate: highest titer among feasible ones, else least violation."""
    if c.feasible.any():
        return int(np.argmax(np.where(c.feasible, c.titer_mg_L, -np.inf)))
    # nothing feasible within the margins: the least violation (g/L of glucose below the
    # floor, L above the volume limit weighted as 10 g/L per L)
    return int(np.argmin(c.violation))
