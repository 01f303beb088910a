"""New data on another row spacing than the run's: finer is resampled, coarser refused."""

from __future__ import annotations

import json

import pytest

from forecaster.data.errors import DataError
from forecaster.data.time_grid import Cadence
from forecaster.serve.predict import predict_table
from forecaster.sim import SimConfig, simulate


def test_the_run_records_its_cadence(run_dir, loaded_run):
    stored = Cadence.from_dict(json.loads((run_dir / "cadence.json").read_text()))
    assert stored.row_h == pytest.approx(1.0)
    assert loaded_run.cadence == stored


def test_coarser_rows_are_refused_with_both_cadences(loaded_run, new_table):
    table = new_table[new_table["time_h"] % 3 == 0].reset_index(drop=True)
    with pytest.raises(DataError, match="every 3 h .* every 1 h"):
        predict_table(loaded_run, table, attributions=False, alarms=False)


def test_finer_rows_are_resampled_onto_the_trained_grid(loaded_run):
    cfg = SimConfig(sample_interval_h=0.5, run_length_days=6.0)
    table = simulate(cfg, n_batches=2, seed=77).table
    res = predict_table(loaded_run, table, attributions=False, alarms=False)
    assert len(res.predictions) == 2
    for rows in res.batches.values():
        assert (rows["time_h"].diff().dropna() == 1.0).all()
