"""The planned recipe reaches every model as an input from the first row; excluding it works."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecaster import schema
from forecaster.models.forecast import ForecastConfig
from forecaster.models.ladder.summary import RidgeSummary
from forecaster.models.sequence import SequenceForecaster
from forecaster.models.tabular_features import TabularFeatures
from forecaster.sim import SimConfig, simulate


@pytest.fixture(scope="module")
def table():
    cfg = SimConfig(run_length_days=6.0)
    cfg.faults.rate = 0.0
    return simulate(cfg, n_batches=5, seed=7).table


def _build(table, exclude=(schema.FEED,)) -> SequenceForecaster:
    cfg = ForecastConfig(hidden_size=8, num_layers=1, n_days=6, exclude_inputs=list(exclude))
    return SequenceForecaster.build(cfg, table)


def test_the_plan_is_a_sequence_input_known_at_the_first_row(table):
    model = _build(table)
    assert set(schema.PLAN) <= set(model.variables)
    assert {model.prep.roles[v] for v in schema.PLAN} == {"static"}
    j = model.prep.value_index("planned_shift_h")
    first = {}
    for bid, rows in table.groupby(schema.BATCH_ID):
        x = model.features(rows)
        assert np.ptp(x[:, j]) == 0.0  # the same value at every origin
        first[bid] = x[0, j]
    shifts = table.groupby(schema.BATCH_ID)["planned_shift_h"].first()
    # at row 0 (before any shift) the feature already orders the batches by their plan
    order = np.argsort([first[b] for b in shifts.index], kind="stable")
    assert np.all(np.diff(shifts.to_numpy()[order]) >= 0) and shifts.nunique() > 1


def test_excluding_the_plan_removes_it_and_only_it(table):
    with_plan = _build(table)
    without = _build(table, exclude=(schema.FEED, *schema.PLAN))
    assert not set(schema.PLAN) & set(without.variables)
    assert [v for v in with_plan.variables if v not in schema.PLAN] == without.variables


def test_rf_features_hold_the_plan_value_at_every_origin(table):
    model = _build(table)
    tab = TabularFeatures(tuple(model.variables), roles=tuple(model.prep.roles.items()))
    for name in schema.PLAN:
        assert name in tab.feature_names and f"{name}:slope_6h_per_h" not in tab.feature_names
    rows = table[table[schema.BATCH_ID] == "B0001"]
    x = tab.at_rows(rows, np.array([0, 30, len(rows) - 1]))
    j = tab.feature_names.index("planned_shift_h")
    assert np.all(x[:, j] == rows["planned_shift_h"].iloc[0])


def test_ridge_summary_keeps_the_plan_columns(table):
    model = _build(table)
    batches = [g for _, g in table.groupby(schema.BATCH_ID)]
    rung = RidgeSummary(inputs=model.variables)
    assert set(schema.PLAN) <= set(rung._columns(batches))


def test_the_shared_tiny_run_trained_with_the_plan_as_inputs(run_dir):
    state = json.loads((run_dir / "forecast" / "preprocessing.json").read_text())
    assert set(schema.PLAN) <= set(state["preprocessing"]["variables"])


@pytest.mark.slow
def test_a_tiny_run_trains_with_the_plan_and_without_it(tmp_path):
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    def inputs(exclude: list[str]) -> list[str]:
        name = f"plan{len(exclude)}"
        args = ["--config", "configs/debug.yaml", "--sim.run_length_days", "8",
                "--anomaly.enabled", "false",
                "--output_dir", str(tmp_path), "--run_name", name,
                "--model.exclude_inputs", json.dumps(exclude)]  # fmt: skip
        cfg, text = parse_config(args, exit_on_error=False)
        run_dir, metrics = run(cfg, text, log=lambda *_: None)
        assert metrics["titer"]["sequence"]["harvest_mape_by_day"]
        state = json.loads((run_dir / "forecast" / "preprocessing.json").read_text())
        return state["preprocessing"]["variables"]

    assert set(schema.PLAN) <= set(inputs([schema.FEED]))
    assert not set(schema.PLAN) & set(inputs([schema.FEED, *schema.PLAN]))
