"""Issue #14, finding 2: one harvest number per batch in the files the user opens.

The trial found ``predictions.csv`` at 3301 mg/L while the last day of ``trajectories.csv``
said 2880, and ``trajectories.csv`` header-only for finished batches. The in-memory outputs
and the dashboard are checked in ``tests/predict/test_final_row.py``; this reads the CSV
files ``predict`` writes, for a finished and a running batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.serve.outputs import write_outputs
from forecaster.serve.predict import predict_table
from tests.predict.conftest import half_finished


@pytest.fixture(scope="module")
def written(loaded_run, new_table, tmp_path_factory):
    two = new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001"])]
    table = half_finished(two, "B0001", 100.0)  # B0000 finished, B0001 at day 4.2
    res = predict_table(loaded_run, table, attributions=False, alarms=False)
    out = tmp_path_factory.mktemp("one_number") / "out"
    write_outputs(res, out, pictures=False)
    pred = pd.read_csv(out / "predictions.csv").set_index(schema.BATCH_ID)
    traj = pd.read_csv(out / "trajectories.csv")
    return pred, traj, loaded_run.model.harvest_day


def test_every_batch_has_a_trajectory_that_ends_at_its_harvest_forecast(written):
    pred, traj, harvest_day = written
    assert sorted(traj[schema.BATCH_ID].unique()) == ["B0000", "B0001"]  # finished one too
    for b, mine in traj.groupby(schema.BATCH_ID):
        assert mine["day"].max() == harvest_day
        last = mine.loc[mine["day"].idxmax()]
        # the same number, to the precision the CSV writes (6 significant digits)
        np.testing.assert_allclose(last["titer_mg_L"], pred.loc[b, "harvest_titer_mg_L"], rtol=1e-5)
        np.testing.assert_allclose(
            last[["titer_p10_mg_L", "titer_p90_mg_L"]].to_numpy(float),
            pred.loc[b, ["harvest_titer_p10_mg_L", "harvest_titer_p90_mg_L"]].to_numpy(float),
            rtol=1e-5,
        )


def test_finished_batch_gets_its_fitted_curve_running_batch_a_forecast(written):
    _, traj, harvest_day = written
    done = traj[traj[schema.BATCH_ID] == "B0000"]
    assert done["day"].tolist() == list(range(1, harvest_day + 1)) and done["fitted"].all()
    running = traj[traj[schema.BATCH_ID] == "B0001"].set_index("day")["fitted"]
    assert running.loc[:4].all() and not running.loc[5:].any()  # behind / ahead of day 4.2
