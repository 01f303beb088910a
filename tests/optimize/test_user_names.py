"""Outputs speak the user's column names and units; their bounds are read in their units."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.data.column_map import ColumnMap
from forecaster.data.process import default_process
from forecaster.optimize import extract_factors
from forecaster.serve.optimize import _Names


@pytest.fixture
def names():
    cmap = ColumnMap(columns={"Temp SP": "temperature_setpoint_C"},
                     units={"temperature_setpoint_C": "degF"})  # fmt: skip
    return _Names(default_process(), cmap)


def test_labels_and_units_are_the_users(tiny_sim, names):
    bf = extract_factors(tiny_sim.table)
    end = bf.factor("temperature_setpoint_C_end")
    assert names.label(end) == "Temp SP after change"
    assert names.unit(end) == "degF"
    day = bf.factor("temperature_setpoint_C_change_day")
    assert names.label(day) == "Temp SP change" and names.unit(day) == "day"
    # a column they did not rename keeps the process label and unit
    assert names.label(bf.factor("do_setpoint_pct")) == "DO setpoint"


def test_values_round_trip_through_their_unit(tiny_sim, names):
    bf = extract_factors(tiny_sim.table)
    theirs = names.to_theirs("temperature_setpoint_C_end", bf, [33.0])
    np.testing.assert_allclose(theirs, [91.4])  # 33 degC in degF
    np.testing.assert_allclose(names.to_ours("temperature_setpoint_C_end", bf, theirs), [33.0])
    np.testing.assert_allclose(names.to_theirs("temperature_setpoint_C_change_day", bf, [5.0]),
                               [5.0])  # fmt: skip
