"""The one check of a batch's rows before prediction (SequenceForecaster and Monitor)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.data.errors import DataError, MissingColumnError, RangeError, TimeOrderError
from forecaster.models.forecast import ForecastConfig
from forecaster.models.inputs import check_rows
from forecaster.models.sequence import SequenceForecaster
from tests.synthetic import synthetic_table

NAMES = [schema.TIME, "glucose_g_L"]


@pytest.mark.parametrize(
    "block, prev, error, rows",
    [
        ([[0.0, 5.0], [1.0, np.nan]], np.nan, None, None),  # a missing cell is fine
        ([[0.0, 5.0], [0.0, 5.0]], np.nan, TimeOrderError, "row 2"),  # repeated time
        ([[3.0, 5.0]], 3.0, TimeOrderError, "row 1"),  # not after the previous chunk
        ([[np.nan, 5.0]], np.nan, TimeOrderError, "row 1"),
        ([[0.0, 5.0], [1.0, -3.0]], np.nan, RangeError, "row 2"),
        ([[0.0, np.inf]], np.nan, RangeError, "row 1"),
    ],
)
def test_check_rows(block, prev, error, rows):
    block = np.asarray(block, dtype=float)
    if error is None:
        check_rows(block, NAMES, prev_time_h=prev)
        return
    with pytest.raises(error, match=rows) as err:
        check_rows(block, NAMES, batch="B7", prev_time_h=prev)
    assert "batch B7" in str(err.value)


@pytest.fixture(scope="module")
def model_and_batch():
    torch.manual_seed(0)
    table = synthetic_table(3, 48)
    model = SequenceForecaster.build(ForecastConfig(hidden_size=8, num_layers=1, n_days=3), table)
    return model, table[table[schema.BATCH_ID] == "S001"].reset_index(drop=True)


def test_forecaster_refuses_bad_rows_with_where(model_and_batch):
    model, batch = model_and_batch
    bad = batch.copy()
    bad.loc[10, "glucose_g_L"] = -5.0
    with pytest.raises(RangeError, match="glucose_g_L.*row 11"):
        model.predict([bad])
    with pytest.raises(MissingColumnError, match="glucose_g_L"):
        model.step_outputs([batch.drop(columns="glucose_g_L")])
    with pytest.raises(DataError, match="rows of 2 batches"):
        model.predict([synthetic_table(2, 24)])
    assert len(model.predict([batch])) == 1  # the good batch still predicts
