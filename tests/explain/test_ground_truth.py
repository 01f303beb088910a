"""Simulator ground truth: the feed policy's inputs exactly, and the titer sensitivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.explain.ground_truth import (
    STATE_VARIABLES,
    feed_policy_truth,
    titer_sensitivity_truth,
)
from forecaster.sim import PERTURB_STATES, SimConfig, get_policy, simulate

MODEL_VARIABLES = [v for v in schema.VARIABLE_NAMES if v != schema.FEED] + [schema.TIME]


def short_cfg(policy: str = "glucose_setpoint") -> SimConfig:
    cfg = SimConfig(run_length_days=5, dt_h=0.5, feed_policy=policy)
    cfg.faults.rate = 0.0
    return cfg


def decision_table(n: int, vary: str, seed: int = 0) -> pd.DataFrame:
    """Decisions at 24 h steps where only ``vary`` changes between decisions."""
    rng = np.random.default_rng(seed)
    fixed = {
        "glucose_g_L": 4.0,
        "vcd_1e6_cells_mL": 8.0,
        "volume_L": 1.6,
        "feed_glucose_g_L": 100.0,
    }
    tab = pd.DataFrame({schema.BATCH_ID: "B0", schema.TIME: 24.0 * np.arange(1, n + 1)})
    for v, x in fixed.items():
        tab[f"policy_{v}"] = x * (1 + 0.3 * rng.standard_normal(n)) if v == vary else x
    return tab


@pytest.mark.parametrize("policy", ["glucose_setpoint", "continuous", "daily_bolus"])
def test_feed_truth_is_exactly_the_policy_inputs(policy):
    cfg = short_cfg(policy)
    table = simulate(cfg, n_batches=3, seed=0).table
    truth = feed_policy_truth(cfg, table, MODEL_VARIABLES)
    inputs = set(get_policy(policy).inputs)
    assert set(truth["true_set"]) == inputs == set(truth["ranked"])
    assert set(truth["importance"][truth["importance"] > 0].index) == inputs
    assert (truth["importance"].drop(list(inputs)) == 0).all()
    assert truth["importance"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("vary", ["glucose_g_L", "vcd_1e6_cells_mL"])
def test_feed_truth_ranks_inputs_by_the_decision_function(vary):
    # glucose_setpoint: rate depends on glucose and VCD; only ``vary`` moves -> it alone counts
    truth = feed_policy_truth(short_cfg(), decision_table(40, vary), MODEL_VARIABLES)
    assert truth["importance"][vary] == pytest.approx(1.0)
    assert truth["importance"].drop(vary).sum() == 0.0


def test_feed_truth_drops_inputs_the_model_does_not_see():
    variables = [v for v in MODEL_VARIABLES if v != "volume_L"]
    truth = feed_policy_truth(short_cfg(), decision_table(20, "glucose_g_L"), variables)
    assert "volume_L" not in truth["importance"].index and "volume_L" not in truth["true_set"]
    assert "volume_L read by the policy but not a model input" in truth["definition"]


def test_feed_truth_needs_policy_columns():
    with pytest.raises(KeyError, match="policy_glucose_g_L"):
        feed_policy_truth(short_cfg(), pd.DataFrame({schema.TIME: [24.0]}), MODEL_VARIABLES)


def test_titer_truth_covers_the_perturbable_states_and_is_reproducible():
    assert set(STATE_VARIABLES) == set(PERTURB_STATES)
    cfg = short_cfg()
    cfg.faults.rate = 0.3  # switched off inside, on a copy
    a = titer_sensitivity_truth(
        cfg, MODEL_VARIABLES, origin_days=[2.0], factor=1.2, n_batches=4, seed=0
    )
    assert set(a["importance"].index) == set(STATE_VARIABLES.values()) == set(a["ranked"])
    assert a["importance"].sum() == pytest.approx(1.0) and (a["raw"] >= 0).all()
    # more viable cells at day 2 means more product by harvest: VCD is a top driver
    assert "vcd_1e6_cells_mL" in a["true_set"] and a["raw"]["vcd_1e6_cells_mL"] > 0.1
    b = titer_sensitivity_truth(
        cfg, MODEL_VARIABLES, origin_days=[2.0], factor=1.2, n_batches=4, seed=0
    )
    pd.testing.assert_series_equal(a["raw"], b["raw"])
    assert cfg.faults.rate == 0.3


def test_same_age_truth_ignores_what_only_changes_with_age():
    # two batches decide at the same hours; VCD grows with age but is the same in both
    # batches at a given hour, glucose differs between the batches
    hours = 24.0 * np.arange(1, 11)
    rows = []
    for b, glc in (("B0", 3.0), ("B1", 5.0)):
        rows.append(
            pd.DataFrame(
                {
                    schema.BATCH_ID: b,
                    schema.TIME: hours,
                    "policy_glucose_g_L": glc,
                    "policy_vcd_1e6_cells_mL": 1.0 + hours / 24.0,
                    "policy_volume_L": 1.6,
                    "policy_feed_glucose_g_L": 100.0,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True)
    every = feed_policy_truth(short_cfg(), table, MODEL_VARIABLES)["importance"]
    same = feed_policy_truth(short_cfg(), table, MODEL_VARIABLES, same_age=True)["importance"]
    assert every["vcd_1e6_cells_mL"] > 0.2  # across ages VCD moves the decision
    assert same["vcd_1e6_cells_mL"] == 0.0 and same["glucose_g_L"] == pytest.approx(1.0)
