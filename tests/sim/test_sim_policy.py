"""Feed policies: pure decide(), logged inputs, the row convention of the feed command."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster import schema
from forecaster.sim import POLICIES, PolicyParams, SimConfig, get_policy, simulate
from forecaster.sim.config import FeedPolicyConfig

from .helpers import batch


def _run(policy: str, noise_cv: float = 0.0, **changes):
    cfg = SimConfig(run_length_days=6.0, feed_policy=policy, **changes)
    cfg.faults.rate = 0.0
    cfg.feed.noise_cv = noise_cv
    return simulate(cfg, n_batches=3, seed=21)


def test_glucose_setpoint_feeds_what_cells_use_plus_the_gap():
    pol = get_policy("glucose_setpoint")
    params = PolicyParams(FeedPolicyConfig(target_glucose_g_L=5.0, q_glc_est_pg_cell_day=300.0))
    x = {
        "glucose_g_L": np.array([5.0, 3.0, 12.0]),
        "vcd_1e6_cells_mL": np.array([10.0, 10.0, 0.1]),
        "volume_L": np.array([2.0, 2.0, 2.0]),
        "feed_glucose_g_L": np.array([150.0, 150.0, 150.0]),
    }
    rate = pol.decide(x, params)
    # 300 pg/cell/day x 10e6 cells/mL x 2 L = 6 g/day -> 40 mL/day of 150 g/L feed
    assert rate[0] == pytest.approx(40.0 / 24.0)
    assert rate[1] == pytest.approx((6.0 + 2.0 * 2.0) / 150.0 * 1000.0 / 24.0)
    assert rate[2] == 0.0  # above target: clipped at zero
    np.testing.assert_array_equal(rate, pol.decide(x, params))  # pure
    assert pol.inputs == ("glucose_g_L", "vcd_1e6_cells_mL", "volume_L", "feed_glucose_g_L")


def test_every_policy_is_vectorised_and_reads_only_its_inputs():
    params = PolicyParams(FeedPolicyConfig())
    for name, pol in POLICIES.items():
        assert get_policy(name) is pol and pol.name == name
        assert set(pol.inputs) <= set(schema.VARIABLE_NAMES)
        x = {k: np.linspace(1.0, 8.0, 5) for k in pol.inputs}
        out = pol.decide(x, params)
        assert out.shape == (5,) and (out >= 0).all() and out.max() > 0
    with pytest.raises(ValueError, match="expected one of glucose_setpoint"):
        get_policy("fed_by_hand")


@pytest.mark.parametrize("policy", list(POLICIES))
def test_logged_feed_is_the_decision_from_logged_inputs_at_that_row(policy):
    res = _run(policy)
    pol, params = get_policy(policy), PolicyParams(SimConfig().feed, 24.0)
    inputs = [f"policy_{n}" for n in pol.inputs]
    assert set(inputs) <= set(res.table.columns)
    for bid, start in zip(res.batches["batch_id"], res.batches["feed_start_h"]):
        rows = batch(res, bid)
        t = rows[schema.TIME]
        assert rows.loc[t < start, inputs].isna().all().all()  # NaN before the first decision
        assert (rows.loc[t < start, schema.FEED] == 0).all()
        decided = t.isin(np.arange(start, t.max(), 24.0))
        for n in pol.inputs:  # the policy read exactly what the table logs at that row
            if n != "feed_glucose_g_L":
                np.testing.assert_array_equal(
                    rows.loc[decided, f"policy_{n}"], rows.loc[decided, n]
                )
        x = {n: rows.loc[decided, f"policy_{n}"].to_numpy() for n in pol.inputs}
        np.testing.assert_allclose(
            rows.loc[decided, schema.FEED], pol.decide(x, params), rtol=1e-12
        )
        after = rows[t >= start]
        held = after[schema.FEED].to_numpy()
        if policy == "daily_bolus":  # the bolus lasts one hour, then the pump stops
            assert (held[~decided[t >= start].to_numpy()] == 0).all()
        else:  # held until the next assay
            day = ((after[schema.TIME] - start) // 24).to_numpy()
            for d in np.unique(day):
                assert np.unique(held[day == d]).size == 1


def test_operator_noise_scatters_the_decision_around_the_rule():
    quiet, noisy = _run("glucose_setpoint"), _run("glucose_setpoint", noise_cv=0.05)
    first = quiet.batches["feed_start_h"].to_numpy()  # same inputs up to the first decision
    ratio = [
        batch(noisy, b)[schema.FEED][int(t)] / batch(quiet, b)[schema.FEED][int(t)]
        for b, t in zip(quiet.batches["batch_id"], first)
    ]
    assert not np.allclose(ratio, 1.0) and np.all(np.abs(np.array(ratio) - 1) < 0.25)
