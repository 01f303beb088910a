"""Unit conversions: known values, loose spelling, unknown units, round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster import schema
from forecaster.data import units
from forecaster.data.errors import ConfigError, UnknownUnitError


@pytest.mark.parametrize(
    ("variable", "unit", "value", "canonical"),
    [
        ("glucose_g_L", "mmol/L", 1.0, 0.18016),
        ("glucose_g_L", "mg/dL", 100.0, 1.0),
        ("glucose_g_L", "mM", 10.0, 1.8016),
        ("lactate_g_L", "mmol/L", 10.0, 0.9008),
        ("glutamine_mM", "g/L", 1.4614, 10.0),
        ("ammonia_mM", "mg/L", 17.03, 1.0),
        ("vcd_1e6_cells_mL", "cells/mL", 2.5e6, 2.5),
        ("vcd_1e6_cells_mL", "1e5 cells/mL", 25.0, 2.5),
        ("vcd_1e6_cells_mL", "cells/L", 2.5e9, 2.5),
        ("viability_pct", "fraction", 0.95, 95.0),
        ("do_pct", "fraction", 0.4, 40.0),
        ("titer_mg_L", "g/L", 2.5, 2500.0),
        ("titer_mg_L", "ug/mL", 7.0, 7.0),
        ("temperature_C", "degF", 98.6, 37.0),
        ("temperature_C", "K", 310.15, 37.0),
        ("feed_rate_mL_h", "L/day", 2.4, 100.0),
        ("feed_rate_mL_h", "mL/min", 1.0, 60.0),
        ("base_rate_mL_h", "mL/day", 24.0, 1.0),
        ("volume_L", "mL", 2000.0, 2.0),
        ("volume_L", "m3", 2.0, 2000.0),
        ("airflow_L_min", "mL/min", 500.0, 0.5),
        ("airflow_L_min", "sccm", 250.0, 0.25),
        ("co2_flow_mL_min", "L/min", 0.02, 20.0),
        ("agitation_rpm", "rpm", 120.0, 120.0),
        ("time_h", "min", 90.0, 1.5),
        ("time_h", "d", 2.0, 48.0),
        ("time_h", "s", 7200.0, 2.0),
    ],
)
def test_known_conversions(variable, unit, value, canonical):
    assert units.convert([value], variable, unit)[0] == pytest.approx(canonical, rel=1e-9)
    assert units.to_unit([canonical], variable, unit)[0] == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize(
    ("variable", "spelling", "same_as"),
    [
        ("temperature_C", "°C", "degC"),
        ("temperature_C", "deg C", "degC"),
        ("temperature_C", " DEGF ", "degF"),
        ("vcd_1e6_cells_mL", "1e6/mL", "1e6 cells/mL"),
        ("vcd_1e6_cells_mL", "x10^6 cells/mL", "1e6 cells/mL"),
        ("vcd_1e6_cells_mL", "10^6 cells/ml", "1e6 cells/mL"),
        ("titer_mg_L", "µg/mL", "mg/L"),
        ("glucose_g_L", "MMOL/L", "mmol/L"),
        ("viability_pct", "percent", "%"),
    ],
)
def test_spellings_are_normalised(variable, spelling, same_as):
    assert units.find_unit(variable, spelling) == units.find_unit(variable, same_as)


def test_each_spelling_names_one_unit_per_variable():
    for variable in (*schema.VARIABLE_NAMES, schema.TIME):
        dim = units._dimension(variable)
        owner: dict[str, str] = {}
        for u in dim:
            for spelling in (u.name, *u.aliases):
                key = units.normalize_unit(spelling)
                assert owner.setdefault(key, u.name) == u.name, (variable, spelling)


def test_canonical_unit_of_every_variable_is_known():
    for v in schema.VARIABLES:
        assert units.convert([1.0], v.name, v.unit)[0] == 1.0
        assert v.unit in units.known_units(v.name) or units.find_unit(v.name, v.unit)


def test_unknown_unit_lists_the_known_ones():
    with pytest.raises(UnknownUnitError) as info:
        units.convert([1.0], "glucose_g_L", "furlongs")
    msg = str(info.value)
    assert "furlongs" in msg and "glucose_g_L" in msg
    for u in ("g/L", "mg/dL", "mmol/L"):
        assert u in msg


def test_unknown_unit_suggests_close_spelling():
    with pytest.raises(UnknownUnitError, match="did you mean 'mmol/L'"):
        units.convert([1.0], "glucose_g_L", "mmol/Lt")


def test_any_unit_pint_reads_is_accepted_for_its_dimension():
    # mmol/dL is in no spelling table: pint reads it, the molar mass converts it
    assert units.convert([1.0], "glucose_g_L", "mmol/dL")[0] == pytest.approx(1.8016)


def test_mass_unit_is_not_accepted_for_ph():
    with pytest.raises(UnknownUnitError):
        units.convert([7.0], "ph", "g/L")


def test_unknown_variable_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError, match="glucose_g_L"):
        units.convert([1.0], "glucose_gL", "g/L")


def test_timestamp_is_a_time_unit_only():
    assert units.is_timestamp("Timestamp") and units.is_timestamp("datetime")
    units.check_unit("time_h", "timestamp")
    with pytest.raises(UnknownUnitError):
        units.check_unit("glucose_g_L", "timestamp")


_PAIRS = [(v, u) for v in (*schema.VARIABLE_NAMES, schema.TIME) for u in units.known_units(v)]


@settings(max_examples=60, deadline=None)
@given(
    pair=st.sampled_from(_PAIRS),
    values=st.lists(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=5
    ),
)
def test_round_trip(pair, values):
    variable, unit = pair
    x = np.asarray(values)
    back = units.to_unit(units.convert(x, variable, unit), variable, unit)
    np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-6)


def test_nan_passes_through():
    out = units.convert([np.nan, 1.0], "glucose_g_L", "mg/dL")
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.01)


def test_timestamps_to_hours_per_batch():
    stamps = pd.Series(
        ["2024-03-01T08:00:00+01:00", "2024-03-01T09:30:00+01:00", "2024-03-01 00:00", "x"]
    )
    hours = units.timestamps_to_hours(stamps, ["A", "A", "B", "B"])
    np.testing.assert_allclose(hours[:3], [0.0, 1.5, 0.0])
    assert np.isnan(hours[3])


def test_numbers_as_timestamps_are_unix_seconds():
    hours = units.timestamps_to_hours(pd.Series([1.7e9, 1.7e9 + 5400.0]), ["A", "A"])
    np.testing.assert_allclose(hours, [0.0, 1.5])
