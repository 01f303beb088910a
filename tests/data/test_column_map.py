"""ColumnMap: plain-value round trip, validation with suggestions."""

from __future__ import annotations

import json

import pytest

from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import ConfigError, UnknownUnitError


def _site_map() -> ColumnMap:
    return ColumnMap(
        columns={"Glucose (mmol/L)": "glucose_g_L", "VCD": "vcd_1e6_cells_mL"},
        units={"glucose_g_L": "mmol/L", "vcd_1e6_cells_mL": "cells/mL"},
        batch_id="Run",
        time="Timestamp",
        time_unit="timestamp",
    )


def test_json_round_trip():
    cmap = _site_map()
    back = ColumnMap.from_dict(json.loads(json.dumps(cmap.to_dict())))
    assert back == cmap


def test_from_none_is_identity_map():
    assert ColumnMap.from_dict(None).renames() == {}


def test_renames_include_keys():
    assert _site_map().renames() == {
        "Glucose (mmol/L)": "glucose_g_L",
        "VCD": "vcd_1e6_cells_mL",
        "Run": "batch_id",
        "Timestamp": "time_h",
    }
    assert _site_map().source_name("glucose_g_L") == "Glucose (mmol/L)"
    assert _site_map().source_name("titer_mg_L") == "titer_mg_L"


def test_key_may_be_mapped_in_columns():
    cmap = ColumnMap(columns={"Batch": "batch_id", "Hours": "time_h"})
    cmap.validate()
    assert cmap.renames() == {"Batch": "batch_id", "Hours": "time_h"}


def test_unknown_key_suggests():
    with pytest.raises(ConfigError, match="did you mean 'columns'"):
        ColumnMap.from_dict({"colums": {}})


def test_unknown_target_suggests():
    with pytest.raises(ConfigError, match="did you mean 'glucose_g_L'"):
        ColumnMap.from_dict({"columns": {"Glc": "glucose_gL"}})


def test_unknown_variable_in_units_suggests():
    with pytest.raises(ConfigError, match="did you mean 'lactate_g_L'"):
        ColumnMap.from_dict({"units": {"lactate": "mmol/L"}})


def test_unknown_unit_raises():
    with pytest.raises(UnknownUnitError, match="glucose_g_L"):
        ColumnMap.from_dict({"units": {"glucose_g_L": "mmol/mL/h"}})
    with pytest.raises(UnknownUnitError, match="time_h"):
        ColumnMap.from_dict({"time_unit": "hourz"})  # pint knows fortnights


def test_two_columns_to_one_target():
    with pytest.raises(ConfigError, match="are all mapped to glucose_g_L"):
        ColumnMap.from_dict({"columns": {"Glc": "glucose_g_L", "Glucose": "glucose_g_L"}})
    with pytest.raises(ConfigError, match="mapped to both"):
        ColumnMap.from_dict({"columns": {"Run": "titer_mg_L"}, "batch_id": "Run"})


@pytest.mark.parametrize(
    "data",
    [
        {"columns": ["a", "b"]},
        {"units": {"glucose_g_L": 5}},
        {"batch_id": ""},
        {"time_unit": 3},
        "not a mapping",
    ],
)
def test_bad_types(data):
    with pytest.raises(ConfigError):
        ColumnMap.from_dict(data)


def test_time_unit_not_in_units():
    with pytest.raises(ConfigError, match="time_unit"):
        ColumnMap.from_dict({"units": {"time_h": "min"}})
