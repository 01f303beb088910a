"""The Monitor's incremental paths give exactly what a full re-evaluation gives.

- the served choice (:class:`~forecaster.serve.chosen_stream.ChoiceStream`) keeps each
  cheap rung's forecast until an input it reads changes: at every row its forecast equals
  :meth:`ServedChoice.apply_row` on all the rows so far, bit for bit;
- the alarm stream fed row by row (arrays, a bounded tail) raises the same alarms, with the
  same reasons, ends and peaks, as one-shot detection on the whole faulty batch (a
  network's peak score up to float rounding).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from forecaster import schema
from forecaster.models.ladder import RidgePhysics, RidgePlan
from forecaster.models.ladder.chosen import ChosenForecast
from forecaster.serve.chosen import ServedChoice
from forecaster.serve.chosen_stream import ChoiceStream
from forecaster.serve.monitor import Monitor

PLAN = ("feed_glucose_g_L", "planned_feed_start_h", "planned_shift_h",
        "planned_post_shift_temperature_C", "planned_harvest_h")  # fmt: skip


@pytest.fixture(scope="module")
def served(tiny_table_module):
    batches = tiny_table_module[:-1]
    ridge = RidgePlan(statics=PLAN).fit(batches)
    physics = RidgePhysics(statics=PLAN).fit(batches)
    weights = {
        "1": {"ridge_plan": 1.0},
        "2": {"ridge_plan": 0.5, "sequence": 0.5},
        "3": {"ridge_physics": 0.7, "sequence": 0.3},
        "4": {"ridge_plan": 0.4, "ridge_physics": 0.6},
    }
    chosen = ChosenForecast(
        schema.TITER,
        weights,
        rungs={"ridge_plan": ridge, "ridge_physics": physics},
        planned_end_h=144.0,
    )
    model = SimpleNamespace(net=SimpleNamespace(quantiles=[0.1, 0.5, 0.9]))
    return ServedChoice(chosen, model)


@pytest.fixture(scope="module")
def tiny_table_module():
    from tests.synthetic import synthetic_table

    t = synthetic_table(n_batches=6, n_hours=144, seed=0)
    out = []
    for _, g in t.groupby(schema.BATCH_ID, sort=False):
        g = g.reset_index(drop=True)
        for c in PLAN:  # a plan is known in advance: one value per batch
            g[c] = float(g[c].iloc[0])
        g["planned_shift_h"], g["planned_harvest_h"] = 72.0 + len(out), 144.0
        out.append(g)
    return out


def _decoded(i: int) -> dict:
    """A decoded network row (``harvest (3,)``, ``trajectory (6, 3)``) that moves with i."""
    mid = 900.0 + 7.0 * i
    traj = np.outer(np.linspace(0.2, 1.0, 6), [0.8 * mid, mid, 1.25 * mid])
    return {"harvest": np.array([0.8 * mid, mid, 1.25 * mid]), "trajectory": traj}


def test_kept_rung_forecasts_equal_apply_row_on_every_prefix(served, tiny_table_module):
    rows = tiny_table_module[-1]
    names = [c for c in rows.columns if rows[c].dtype.kind == "f"]
    values = rows[names].to_numpy(dtype=float)
    stream = ChoiceStream(served, "B")
    bounds = [*range(0, 30), *range(30, len(rows), 7), len(rows)]  # single rows, then chunks
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        stream.append(values[lo:hi].copy(), names)
        got = stream.apply(_decoded(k))
        want = served.apply_row(rows.iloc[:hi], _decoded(k))
        np.testing.assert_array_equal(got["harvest"], want["harvest"])
        np.testing.assert_array_equal(got["trajectory"], want["trajectory"])
    n_updates = len(bounds) - 1
    # kept: each rung recomputed about once per assay or origin day, not at every update
    assert 0 < stream.recomputed["ridge_plan"] < n_updates / 2
    assert 0 < stream.recomputed["ridge_physics"] < n_updates / 2


def test_a_changed_plan_value_is_read_at_once(served, tiny_table_module):
    rows = tiny_table_module[-1].iloc[:60].copy()
    names = [c for c in rows.columns if rows[c].dtype.kind == "f"]
    rows.loc[rows.index[-1], "planned_shift_h"] += 24.0  # the plan moved at the last row
    stream = ChoiceStream(served, "B")
    values = rows[names].to_numpy(dtype=float)
    stream.append(values[:-1].copy(), names)
    stream.apply(_decoded(0))
    stream.append(values[-1:].copy(), names)
    got = stream.apply(_decoded(1))
    want = served.apply_row(rows, _decoded(1))
    np.testing.assert_array_equal(got["harvest"], want["harvest"])


def test_incremental_alarms_equal_one_shot_detection(loaded_run):
    from forecaster.sim import SimConfig, simulate
    from forecaster.sim.fault_config import FaultsConfig

    sim = simulate(SimConfig(run_length_days=5, faults=FaultsConfig(rate=1.0)), n_batches=1, seed=5)
    rows = sim.table.reset_index(drop=True)
    bid = str(rows[schema.BATCH_ID].iloc[0])
    mon = Monitor(loaded_run)
    for i in range(len(rows)):
        mon.update(bid, rows.iloc[i : i + 1])
    got = [e.to_dict() for e in mon.alarms(bid)]
    want = [e.to_dict() for e in loaded_run.detector.detect(rows)]
    assert [e["detector"] for e in got] == [e["detector"] for e in want]
    for g, w in zip(got, want):
        if g["detector"] != "rules":  # a network's windows, scored in another order: the
            # last bits of its score differ (the forecasts' "up to float rounding")
            assert g.pop("peak_score") == pytest.approx(w.pop("peak_score"), rel=1e-5)
        assert g == w  # rules: every field; reasons word for word
    assert any(e["detector"] == "rules" for e in got)  # the rules' incremental path ran


def test_a_rung_that_reads_more_is_recomputed_at_every_update(served, tiny_table_module):
    from forecaster.models.ladder import RidgeSummary

    assert RidgeSummary().served_inputs() is None  # reads signal summaries: never kept
    rung = served.chosen.rungs["ridge_plan"]
    rung.served_inputs = lambda: None  # this instance no longer says what it reads
    try:
        rows = tiny_table_module[-1].iloc[:12]
        names = [c for c in rows.columns if rows[c].dtype.kind == "f"]
        stream = ChoiceStream(served, "B")
        for i in range(len(rows)):
            stream.append(rows[names].to_numpy(dtype=float)[i : i + 1], names)
            got = stream.apply(_decoded(i))
            want = served.apply_row(rows.iloc[: i + 1], _decoded(i))
            np.testing.assert_array_equal(got["harvest"], want["harvest"])
        assert stream.recomputed["ridge_plan"] == len(rows)
    finally:
        del rung.served_inputs
