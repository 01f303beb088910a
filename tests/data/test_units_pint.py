"""Units through pint: same numbers as the former tables, dimensions, contexts, presets."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster import schema
from forecaster.data import process as proc
from forecaster.data import units
from forecaster.data.errors import UnitDimensionError, UnknownUnitError
from forecaster.data.process_config import build_process

# The conversion tables before pint: unit -> (scale, offset) to the dimension's base unit.
# Frozen here so that every unit accepted then is checked against the numbers it gave then.
_LEGACY = {
    "fraction": {"%": (0.01, 0), "fraction": (1, 0)},
    "pH": {"pH": (1, 0)},
    "temperature": {"degC": (1, 0), "degF": (5 / 9, -32 * 5 / 9), "K": (1, -273.15)},
    "volume": {"L": (1, 0), "mL": (1e-3, 0), "m3": (1e3, 0)},
    "speed": {"rpm": (1, 0), "1/min": (1, 0), "/min": (1, 0), "rev/min": (1, 0)},
    "flow": {
        "mL/h": (1, 0),
        "L/h": (1e3, 0),
        "L/day": (1e3 / 24, 0),
        "mL/day": (1 / 24, 0),
        "mL/min": (60, 0),
        "L/min": (6e4, 0),
        "sccm": (60, 0),
        "slpm": (6e4, 0),
        "m3/h": (1e6, 0),
    },  # fmt: skip
    "cells": {
        "1e6 cells/mL": (1e6, 0),
        "1e5 cells/mL": (1e5, 0),
        "cells/mL": (1, 0),
        "cells/L": (1e-3, 0),
        "1e9 cells/L": (1e6, 0),
        "x10^6 cells/mL": (1e6, 0),
    },  # fmt: skip
    "mass": {
        "g/L": (1, 0),
        "mg/L": (1e-3, 0),
        "mg/dL": (1e-2, 0),
        "ng/mL": (1e-6, 0),
        "kg/m3": (1, 0),
        "ppm": (1e-3, 0),
        "mg%": (1e-2, 0),
    },  # fmt: skip
    "molar": {"mmol/L": (1e-3, 0), "mol/L": (1, 0), "umol/L": (1e-6, 0), "mM": (1e-3, 0)},
}
_UNIT_OF = {
    "%": "fraction", "pH": "pH", "degC": "temperature", "L": "volume", "rpm": "speed",
    "mL/h": "flow", "L/min": "flow", "mL/min": "flow", "1e6 cells/mL": "cells",
    "g/L": "mass", "mg/L": "mass", "mM": "molar",
}  # fmt: skip


def _legacy_cases():
    for v in schema.VARIABLES:
        if v.name in schema.PLAN:  # newer than the former table (hours and degC)
            continue
        dim = _UNIT_OF[v.unit]
        groups = [dim]
        mw = proc.MOLAR_MASS_G_MOL.get(v.name)
        if mw is not None:
            groups = ["mass", "molar"]
        for g in groups:
            for unit, (scale, offset) in _LEGACY[g].items():
                yield v.name, unit, scale, offset, g, mw


def _legacy_convert(x, variable, unit, scale, offset, group, mw):
    """canonical = ((x * s + o) - dst_o) / dst_s, molar scales times the molar mass."""
    canon = schema.variable(variable).unit
    cgroup = _UNIT_OF[canon]
    ds, do = _LEGACY[cgroup][canon]
    if cgroup == "molar":
        ds = ds * mw
    if group == "molar":
        scale = scale * mw
    return ((x * scale + offset) - do) / ds


@pytest.mark.parametrize(("variable", "unit", "scale", "offset", "group", "mw"),
                         list(_legacy_cases()))  # fmt: skip
def test_every_former_unit_gives_the_former_numbers(variable, unit, scale, offset, group, mw):
    x = np.array([0.0, 1.0, 37.5, -2.0, 1234.5])
    old = _legacy_convert(x, variable, unit, scale, offset, group, mw)
    np.testing.assert_allclose(units.convert(x, variable, unit), old, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(units.to_unit(old, variable, unit), x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("variable", "unit", "value", "canonical"),
    [
        ("volume_L", "m**3", 58.5429, 58542.9),  # pint spelling, not in the tables
        ("feed_rate_mL_h", "m**3/day", 0.024, 1000.0),
        ("temperature_C", "degR", 558.27, 37.0),
        ("titer_mg_L", "kg/m**3", 2.5, 2500.0),
        ("glutamine_mM", "mmol/dL", 0.5, 5.0),
        ("do_pct", "mg/L", 6.726992643439959, 100.0),  # CHO: saturation at 37 °C
        ("agitation_rpm", "rps", 2.0, 120.0),  # not 2 pi x 120
        ("agitation_rpm", "Hz", 2.0, 120.0),
    ],
)
def test_units_pint_reads(variable, unit, value, canonical):
    assert units.convert([value], variable, unit)[0] == pytest.approx(canonical, rel=1e-6)


@pytest.mark.parametrize(
    ("variable", "unit", "words"),
    [
        ("vcd_1e6_cells_mL", "g/L", "'g/L' is a mass concentration; vcd_1e6_cells_mL needs a "
         "cell density (cells per volume): did you mean a biomass variable"),
        ("glucose_g_L", "cells/mL", "did you mean a viable cell density variable"),
        ("volume_L", "L/h", "is a flow (volume per time); volume_L needs a volume"),
        ("ph", "g/L", "ph needs pH"),
        ("temperature_C", "mL", "needs a temperature"),
    ],
)  # fmt: skip
def test_a_unit_of_the_wrong_dimension_names_both(variable, unit, words):
    with pytest.raises(UnitDimensionError) as info:
        units.check_unit(variable, unit)
    assert words in str(info.value)
    assert isinstance(info.value, UnknownUnitError)  # callers catching the old class still do


def test_biomass_is_never_converted_into_a_cell_count():
    micro = proc.preset("microbial_fedbatch")
    with pytest.raises(UnitDimensionError, match="biomass_g_L needs a mass concentration"):
        units.check_unit("biomass_g_L", "1e6 cells/mL", micro)


def test_do_saturation_from_config_or_temperature():
    micro = proc.preset("microbial_fedbatch")
    # 100 % at 30 °C in water under air (Benson & Krause) is 7.56 mg/L
    assert units.convert([100.0], "do_mg_L", "%", micro)[0] == pytest.approx(7.559, abs=1e-3)
    given = build_process({"preset": "microbial_fedbatch", "do_saturation_mg_L": 7.0})
    assert units.convert([50.0], "do_mg_L", "%", given)[0] == pytest.approx(3.5)
    assert units.to_unit([3.5], "do_mg_L", "%", given)[0] == pytest.approx(50.0)


def test_unknown_unit_still_lists_the_known_ones():
    with pytest.raises(UnknownUnitError, match="one of g/L") as info:
        units.check_unit("product_g_L", "widgets/L", proc.preset("microbial_fedbatch"))
    assert not isinstance(info.value, UnitDimensionError)
