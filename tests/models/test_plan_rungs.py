"""``ridge_physics`` and ``kernel_plan``: the plan-aware rungs with the shift's physics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.models.ladder import (
    STATIC_RUNGS,
    KernelPlan,
    RidgePhysics,
    RidgePlan,
    rung_from_state_dict,
)
from forecaster.models.ladder.kernel import choose_hyper, rbf_kernel, solve_dual
from forecaster.models.ladder.plan_features import PHYSICS_NAMES, Prefix, physics_features
from forecaster.models.ladder.protocol import upto

RUNGS = (RidgePhysics, KernelPlan)


@pytest.fixture(scope="module")
def batches():
    from forecaster.sim import SimConfig, simulate

    t = simulate(SimConfig(run_length_days=7), n_batches=16, seed=3).table
    return [g.sort_values(schema.TIME) for _, g in t.groupby(schema.BATCH_ID)]


def shifted_batches(n: int, seed: int) -> list[pd.DataFrame]:
    """Daily-assayed batches whose harvest titer depends on the shift time and temperature
    jointly: growth after the shift slows as exp(-((37 - T) / 2.5)^2), productivity rises
    1.6-fold, over the hours left after the shift (14 days, assays every 24 h)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 337.0, 4.0)  # integration grid; rows and assays every 24 h
    daily = t % 24.0 == 0.0
    out = []
    for b in range(n):
        shift = float(rng.choice(np.arange(72.0, 145.0, 12.0)))
        post = float(rng.uniform(31.0, 34.5))
        slow = np.exp(-(((37.0 - post) / 2.5) ** 2))
        mu = np.where(t < shift, 0.03, 0.03 * slow)
        vcd = np.minimum(0.5 * np.exp(np.concatenate([[0.0], np.cumsum(mu[:-1] * 4.0)])), 25.0)
        qp = rng.lognormal(np.log(0.6), 0.05) * np.where(t < shift, 1.0, 1.6)  # mg/L per cell-h
        titer = np.concatenate([[0.0], np.cumsum(qp[:-1] * vcd[:-1] * 4.0)])
        out.append(
            pd.DataFrame(
                {
                    schema.BATCH_ID: f"S{b}",
                    schema.TIME: t[daily],
                    schema.TITER: titer[daily],
                    "vcd_1e6_cells_mL": vcd[daily],
                    "temperature_setpoint_C": np.where(t[daily] < shift, 37.0, post),
                    "planned_feed_start_h": 48.0,
                    "planned_shift_h": shift,
                    "planned_post_shift_temperature_C": post,
                    "planned_harvest_h": 336.0,
                }
            )
        )
    return out


def mape_at(rung, batches: list[pd.DataFrame], origin_h: float) -> float:
    y = np.asarray([b[schema.TITER].dropna().iloc[-1] for b in batches])
    p = rung.predict([upto(b, origin_h) for b in batches], 336.0)[:, 1]
    return float(np.mean(np.abs(p / y - 1.0)))


def test_registered_as_static_rungs():
    assert STATIC_RUNGS["ridge_physics"] is RidgePhysics
    assert STATIC_RUNGS["kernel_plan"] is KernelPlan
    assert (
        len(PHYSICS_NAMES) == physics_features(Prefix(np.zeros(1), {}), 1, 336.0, schema.PLAN).size
    )


@pytest.mark.parametrize("cls", RUNGS)
def test_fits_predicts_and_round_trips_with_identical_forecasts(batches, cls):
    rung = cls(statics=(*schema.PLAN, "not_a_column")).fit(batches[:12])
    assert rung.plan == schema.PLAN
    pre = [upto(b, 72.0) for b in batches[12:]] + [upto(b, 130.0) for b in batches[12:]]
    p = rung.predict(pre, 168.0)
    assert p.shape == (8, 3) and np.all(np.isfinite(p)) and np.all(p[:, 1] > 0)
    assert np.all(p[:, 0] <= p[:, 1]) and np.all(p[:, 1] <= p[:, 2])
    state = json.loads(json.dumps(rung.state_dict()))  # plain values only
    assert state["format_version"] == 1
    back = rung_from_state_dict(state)
    assert type(back) is cls and back.plan == rung.plan and back.cells == rung.cells
    np.testing.assert_allclose(back.predict(pre, 168.0), p, rtol=1e-12)
    # the plan is read: another planned shift gives another forecast
    moved = [x.assign(planned_shift_h=x["planned_shift_h"] + 24.0) for x in pre]
    assert not np.allclose(rung.predict(moved, 168.0)[:, 1], p[:, 1])


@pytest.mark.parametrize("cls", RUNGS)
def test_newer_state_format_is_refused(batches, cls):
    state = cls(statics=schema.PLAN).fit(batches[:6]).state_dict()
    with pytest.raises(ValueError, match="newer"):
        rung_from_state_dict({**state, "format_version": 99})


@pytest.mark.parametrize("cls", RUNGS)
def test_without_plan_columns_it_still_forecasts(batches, cls):
    plain = [b.drop(columns=list(schema.PLAN)) for b in batches]
    rung = cls(statics=schema.PLAN).fit(plain[:12])
    assert rung.plan == ()
    p = rung.predict([upto(b, 96.0) for b in plain[12:]], 168.0)
    assert np.all(np.isfinite(p)) and np.all(p[:, 1] > 0)


def test_beats_ridge_plan_when_the_shift_acts_nonlinearly():
    train, test = shifted_batches(30, seed=0), shifted_batches(16, seed=1)
    base = mape_at(RidgePlan(statics=schema.PLAN).fit(train), test, 72.0)
    phys = mape_at(RidgePhysics(statics=schema.PLAN).fit(train), test, 72.0)
    kern = mape_at(KernelPlan(statics=schema.PLAN).fit(train), test, 72.0)
    assert phys < 0.7 * base, (phys, base)
    assert kern < 0.7 * base, (kern, base)


def test_kernel_solves_and_learns_a_nonlinear_target_by_cross_validation():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(80, 3))
    k = rbf_kernel(z, z, 0.5)
    np.testing.assert_allclose(np.diag(k), 1.0)
    y = z @ np.array([1.0, -0.5, 0.2])
    (dual,) = solve_dual(k, y, (0.1,))
    np.testing.assert_allclose((k + 0.1 * np.eye(80)) @ dual, y, atol=1e-9)
    bumpy = np.sin(2.0 * z[:, 0])
    # a linear fit leaves most of the variance of sin(2 z); the chosen kernel does not
    resid = bumpy - z @ np.linalg.lstsq(z, bumpy, rcond=None)[0]
    _, _, mse = choose_hyper(z, bumpy)
    assert mse < 0.5 * float(np.mean(resid**2))


def test_served_choice_rebuilds_the_rungs_from_plain_state(batches):
    from forecaster.models.ladder.chosen import ChosenForecast

    rungs = {c.name: c(statics=schema.PLAN).fit(batches[:12]) for c in RUNGS}
    chosen = ChosenForecast(
        product=schema.TITER,
        weights={"3": {"ridge_physics": 0.5, "kernel_plan": 0.5}},
        rungs=rungs,
        planned_end_h=168.0,
    )
    back = ChosenForecast.from_state_dict(json.loads(json.dumps(chosen.state_dict())))
    pre = [upto(b, 80.0) for b in batches[12:]]
    np.testing.assert_allclose(
        back.predict(pre, harvest_h=168.0), chosen.predict(pre, harvest_h=168.0)
    )
