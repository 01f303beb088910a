"""Units of the process variables and conversions from the units users log in.

Each variable of the run's process definition (:mod:`forecaster.data.process`; without one,
the CHO preset = ``forecaster.schema.VARIABLES``) is stored in its own unit (``glucose_g_L``
in g/L, ``vcd_1e6_cells_mL`` in 1e6 cells/mL, ...). A column map may say that a user's column
is in another unit; :func:`convert` brings the values to the variable's unit and
:func:`to_unit` goes back. The arithmetic is pint's (:mod:`forecaster.data.unit_registry`):
any unit pint parses is accepted for a variable of the same dimension (``kg/m**3``,
``m**3/day``, ``degR``...), and a unit of another dimension is an error that names both.

Two conversions cross dimensions, only for the variables that declare them: mass <-> molar
concentration with the variable's molar mass (glucose 180.16, lactate 90.08 as lactic acid,
glutamine 146.14, ammonia as NH3 17.03 g/mol), and dissolved oxygen in % air saturation <->
mg/L with the process's saturation concentration (``data.process.do_saturation_mg_L``, else
Benson & Krause's solubility of oxygen in water under air at 1 atm at
``do_saturation_temperature_C``: 37 °C for CHO -> 6.73 mg/L, 30 °C for microbial -> 7.56 mg/L).

The spellings in the tables below are matched loosely first (case, spaces, ``°``, ``µ``/``u``,
``x10^6``/``1e6`` and the word ``cells`` do not matter, ``"°C"``, ``"deg C"`` and ``"degc"``
are the same unit; ``C`` is Celsius, not coulomb), then pint reads anything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pint

from forecaster import schema
from forecaster.data import unit_registry
from forecaster.data.errors import UnitDimensionError, UnknownUnitError, suggest
from forecaster.data.process import (
    MOLAR_MASS_G_MOL,
    Process,
    ProcessVariable,
    default_process,
    known_variable,
)

__all__ = ["MOLAR_MASS_G_MOL", "TIMESTAMP", "Unit", "canonical_unit", "check_unit", "convert",
           "find_unit", "is_timestamp", "known_units", "normalize_unit", "timestamps_to_hours",
           "to_unit"]  # fmt: skip

#: Pseudo-unit of a time column holding dates/times instead of elapsed time.
TIMESTAMP = "timestamp"
_TIMESTAMP_ALIASES = ("timestamp", "datetime", "date", "iso8601", "date time")

_MAX_UNIX_S = 2e11  # about year 8000: a larger number is not a Unix time in seconds


@dataclass(frozen=True)
class Unit:
    """One spelling family of a unit: ``name`` (shown), ``expr`` (what pint reads)."""

    name: str
    expr: str
    aliases: tuple[str, ...] = ()


# Spelling tables: the names users write, grouped by dimension, and the pint expression each
# one means. Units outside these tables go straight to pint.
_FRACTION = (
    Unit("%", "percent", aliases=("percent", "pct", "% sat", "% air sat", "% air saturation")),
    Unit("fraction", "dimensionless", aliases=("frac", "ratio", "0-1")),
)
_PH = (Unit("pH", "pH", aliases=("ph units", "-log[h+]")),)
_TEMPERATURE = (
    Unit("degC", "degC", aliases=("°C", "C", "deg C", "celsius", "oC", "℃")),
    Unit("degF", "degF", aliases=("°F", "F", "deg F", "fahrenheit")),
    Unit("K", "kelvin", aliases=("kelvin",)),
)
_VOLUME = (
    Unit("L", "L", aliases=("l", "litre", "liter", "litres", "liters", "dm3")),
    Unit("mL", "mL", aliases=("millilitre", "milliliter", "cm3", "cc")),
    Unit("m3", "m**3", aliases=("m^3", "cubic metre", "cubic meter")),
)
_SPEED = (Unit("rpm", "rpm", aliases=("1/min", "min-1", "/min", "rev/min")),)
_FLOW = (
    Unit("mL/h", "mL/h", aliases=("mL/hr", "mL per h", "mlph")),
    Unit("L/h", "L/h", aliases=("L/hr",)),
    Unit("L/day", "L/day", aliases=("L/d", "L per day")),
    Unit("mL/day", "mL/day", aliases=("mL/d", "mL per day")),
    Unit("mL/min", "mL/min", aliases=("ccm",)),
    Unit("L/min", "L/min", aliases=("lpm",)),
    Unit("sccm", "mL/min", aliases=("mLn/min", "NmL/min")),
    Unit("slpm", "L/min", aliases=("sL/min", "NL/min", "Ln/min")),
    Unit("m3/h", "m**3/h", aliases=("m^3/h",)),
)
_CELLS = (
    Unit(
        "1e6 cells/mL",
        "1e6 cell/mL",
        aliases=("1e6/mL", "x10^6 cells/mL", "million cells/mL", "e6/mL"),
    ),  # fmt: skip
    Unit("1e5 cells/mL", "1e5 cell/mL", aliases=("1e5/mL", "x10^5 cells/mL")),
    Unit("cells/mL", "cell/mL", aliases=("/mL", "1/mL")),
    Unit("cells/L", "cell/L", aliases=("/L", "1/L")),
    Unit("1e9 cells/L", "1e9 cell/L", aliases=("1e9/L", "x10^9 cells/L")),
)
_MASS_CONC = (
    Unit("g/L", "g/L", aliases=("mg/mL", "kg/m3")),
    Unit("mg/L", "mg/L", aliases=("ug/mL", "µg/mL", "ppm")),
    Unit("mg/dL", "mg/dL", aliases=("mg/100mL", "mg%")),
    Unit("ng/mL", "ng/mL", aliases=("ug/L", "µg/L")),
)
_MOLAR_CONC = (
    Unit("mmol/L", "mmol/L", aliases=("mM",)),
    Unit("mol/L", "mol/L", aliases=("M",)),
    Unit("umol/L", "umol/L", aliases=("uM", "µM", "µmol/L")),
)
_TIME = (
    Unit("h", "hour", aliases=("hr", "hrs", "hour", "hours")),
    Unit("min", "minute", aliases=("minute", "minutes", "mins")),
    Unit("s", "second", aliases=("sec", "secs", "second", "seconds")),
    Unit("d", "day", aliases=("day", "days")),
)
_GROUPS = (_FRACTION, _PH, _TEMPERATURE, _VOLUME, _SPEED, _FLOW, _CELLS, _MASS_CONC)
_TIME_VARIABLE = ProcessVariable(schema.TIME, "h", "online", label="Time")


@lru_cache(maxsize=1024)
def normalize_unit(text: str) -> str:
    """Canonical spelling used to compare unit strings (``"°C"`` -> ``"degc"``)."""
    s = str(text).strip().lower()
    s = s.replace("µ", "u").replace("μ", "u").replace("℃", "degc").replace("℉", "degf")
    s = s.replace("°", "deg").replace("×", "x").replace("*", "x")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"cells?|vc", "", s)  # "1e6 cells/mL" == "1e6/mL"
    s = re.sub(r"x?10\^?(\d)", r"1e\1", s)  # "x10^6", "10^6" -> "1e6"
    s = s.replace("litres", "l").replace("liters", "l").replace("litre", "l")
    s = s.replace("liter", "l").replace("per", "/")
    return s


def _variable(variable: str, process: Process | None) -> ProcessVariable:
    if variable == schema.TIME:
        return _TIME_VARIABLE
    return known_variable(variable, process)


def _dimension(variable: str, process: Process | None = None) -> tuple[Unit, ...]:
    """Spellings listed for ``variable`` (its unit's table; both for cross-dimension ones)."""
    var = _variable(variable, process)
    if var is _TIME_VARIABLE:
        return _TIME
    if var.molar_mass_g_mol is not None:
        return _MASS_CONC + _MOLAR_CONC
    if var.dissolved_oxygen:
        return _FRACTION + _MASS_CONC
    for dim in _GROUPS:
        if any(_matches(u, var.unit) for u in dim):
            return dim
    return (Unit(var.unit, var.unit),)


def _matches(u: Unit, text: str) -> bool:
    key = normalize_unit(text)
    return key in {normalize_unit(n) for n in (u.name, *u.aliases)}


def _lookup(text: str, groups: Sequence[tuple[Unit, ...]]) -> Unit | None:
    for dim in groups:
        for u in dim:
            if _matches(u, text):
                return u
    return None


def canonical_unit(variable: str, process: Process | None = None) -> str:
    """Unit the batch table stores ``variable`` in (``h`` for ``time_h``)."""
    return _variable(variable, process).unit


def known_units(variable: str, process: Process | None = None) -> list[str]:
    """Unit names listed for ``variable`` (aliases not listed; pint accepts more)."""
    return [u.name for u in _dimension(variable, process)]


def find_unit(variable: str, unit: str, process: Process | None = None) -> Unit:
    """The :class:`Unit` of ``variable`` spelt ``unit``.

    Raises:
        UnitDimensionError: pint knows the unit, but it measures something else.
        UnknownUnitError: nobody knows the unit.
    """
    var = _variable(variable, process)
    dim = _dimension(variable, process)
    found = _lookup(unit, [dim]) or _lookup(unit, [*_GROUPS, _MOLAR_CONC, _TIME])
    if found is None:
        try:
            unit_registry.parse(unit)
            found = Unit(str(unit).strip(), str(unit).strip())
        except ValueError:
            found = None
    if found is not None:
        try:
            _affine(found.expr, var, process)
            return found
        except pint.DimensionalityError:
            if not unit_registry.is_bioprocess_dimension(found.expr):
                err = UnknownUnitError(
                    unit, variable=variable, known=known_units(variable, process)
                )
                err.message += f" (pint reads it as {unit_registry.dimension(found.expr)})"
                raise err from None
            needed = unit_registry.dimension(_expr(var.unit, dim))
            given = unit_registry.dimension(found.expr)
            hint = unit_registry.wrong_dimension_hint(needed, given)
            if var.molar_mass_g_mol is not None:
                needed += f" (or a molar one: molar mass {var.molar_mass_g_mol:g} g/mol)"
            elif var.dissolved_oxygen:
                needed = "a dissolved-oxygen reading (% air saturation or mg/L)"
            raise UnitDimensionError(
                str(unit), variable=variable, given=given, needed=needed,
                known=known_units(variable, process),
                hint=hint,
            ) from None  # fmt: skip
    known = known_units(variable, process)
    if variable == schema.TIME:
        known = [*known, TIMESTAMP]
    close = suggest(str(unit), [a for u in dim for a in (u.name, *u.aliases)])
    err = UnknownUnitError(unit, variable=variable, known=known)
    if close:
        err.message += f" (did you mean {close[0]!r}?)"
    raise err


def _expr(text: str, dim: Sequence[Unit] = ()) -> str:
    """Pint expression of a spelling (the tables first)."""
    found = _lookup(text, [tuple(dim), *_GROUPS, _MOLAR_CONC, _TIME])
    return found.expr if found is not None else text


def _affine(src_expr: str, var: ProcessVariable, process: Process | None) -> tuple[float, float]:
    """``(a, b)``: the variable's unit = a * (value in src) + b."""
    dst = _expr(var.unit)
    csat = None
    if var.dissolved_oxygen:
        csat = (process or default_process()).saturation_mg_L()
    return unit_registry.affine(src_expr, dst, mw=var.molar_mass_g_mol, csat=csat)


def is_timestamp(unit: str) -> bool:
    """Whether a time unit means "dates/times" rather than elapsed time."""
    return normalize_unit(unit) in {normalize_unit(a) for a in _TIMESTAMP_ALIASES}


def check_unit(variable: str, unit: str, process: Process | None = None) -> None:
    """Raise UnknownUnitError (or ConfigError for an unknown variable) if not convertible."""
    if variable == schema.TIME and is_timestamp(unit):
        return
    find_unit(variable, unit, process)


def convert(
    values: Sequence[float] | np.ndarray,
    variable: str,
    from_unit: str,
    process: Process | None = None,
) -> np.ndarray:
    """Values of ``variable`` in ``from_unit`` -> float array in the variable's unit."""
    x = np.asarray(values, dtype=float)
    src = find_unit(variable, from_unit, process)
    a, b = _affine(src.expr, _variable(variable, process), process)
    if a == 1.0 and b == 0.0:
        return x.copy()
    return x * a + b


def to_unit(
    values: Sequence[float] | np.ndarray,
    variable: str,
    unit: str,
    process: Process | None = None,
) -> np.ndarray:
    """Values of ``variable`` in its unit -> float array in ``unit`` (inverse of convert)."""
    x = np.asarray(values, dtype=float)
    dst = find_unit(variable, unit, process)
    a, b = _affine(dst.expr, _variable(variable, process), process)
    if a == 1.0 and b == 0.0:
        return x.copy()
    return (x - b) / a


def timestamps_to_hours(values: pd.Series, batch: Sequence[object] | np.ndarray) -> np.ndarray:
    """Dates/times -> float hours since the earliest timestamp of each batch.

    Accepts datetime columns (naive ones are taken as UTC), date/time text in any format
    pandas recognises (time zones honoured), or numbers as Unix time in seconds. Cells that
    cannot be read are NaN.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = values.dt.tz_localize("UTC") if values.dt.tz is None else values
    elif pd.api.types.is_numeric_dtype(values.dtype):
        num = values.to_numpy(dtype=float, na_value=np.nan, copy=True)
        num[~np.isfinite(num) | (np.abs(num) > _MAX_UNIX_S)] = np.nan
        stamps = pd.to_datetime(pd.Series(num, index=values.index), unit="s", utc=True)
    else:
        stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    h = ((stamps - epoch) / pd.Timedelta(hours=1)).to_numpy(dtype=float, na_value=np.nan)
    start = pd.Series(h).groupby(np.asarray(batch), dropna=False).transform("min")
    return h - start.to_numpy()
