"""resample: regular grid per batch, right-labelled (causal) bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.errors import ConfigError
from forecaster.data.resample import resample


def _minute_table() -> pd.DataFrame:
    t = np.arange(0, 121, 30) / 60.0  # 0, 0.5, 1, 1.5, 2 h
    return pd.DataFrame(
        {
            "batch_id": ["A"] * 5 + ["B"] * 2,
            "time_h": np.r_[t, 0.25, 3.0],
            "temperature_C": [36.0, 37.0, 38.0, 39.0, 40.0, 30.0, 31.0],
            "glucose_g_L": [5.0, np.nan, 4.0, 3.5, np.nan, 2.0, np.nan],
            "fault_label": [0, 0, 1, 0, 0, 0, 0],
            "note": ["a", "b", "c", "d", "e", "f", "g"],
        }
    )


def test_grid_and_aggregation():
    out = resample(_minute_table(), 1.0)
    a = out[out["batch_id"] == "A"]
    assert a["time_h"].tolist() == [0.0, 1.0, 2.0]
    # bin (0, 1] holds 0.5 h and 1.0 h: mean of dense, last offline value, max of label
    assert a["temperature_C"].tolist() == [36.0, 37.5, 39.5]
    assert a["glucose_g_L"].tolist() == [5.0, 4.0, 3.5]
    assert a["fault_label"].tolist() == [0, 1, 0]
    assert a["note"].tolist() == ["a", "c", "e"]
    assert list(out.columns) == list(_minute_table().columns)


def test_empty_bins_become_nan_rows():
    b = resample(_minute_table(), 1.0).query("batch_id == 'B'")
    assert b["time_h"].tolist() == [1.0, 2.0, 3.0]
    assert b["temperature_C"].iloc[1] != b["temperature_C"].iloc[1]  # NaN
    assert b["temperature_C"].iloc[[0, 2]].tolist() == [30.0, 31.0]


def test_grid_is_causal():
    out = resample(_minute_table(), 1.0)
    src = _minute_table()
    for _, row in out.dropna(subset=["glucose_g_L"]).iterrows():
        taken = src[
            (src["batch_id"] == row["batch_id"]) & (src["glucose_g_L"] == row["glucose_g_L"])
        ]
        assert (taken["time_h"] <= row["time_h"]).all()


@pytest.mark.parametrize("step", [0, -1.0, float("nan"), "x"])
def test_bad_step(step):
    with pytest.raises(ConfigError):
        resample(_minute_table(), step)
