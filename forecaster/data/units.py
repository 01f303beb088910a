"""Units of the canonical variables and conversions from the units users log in.

Each canonical variable (``forecaster.schema.VARIABLES``) is stored in its schema unit
(``glucose_g_L`` in g/L, ``vcd_1e6_cells_mL`` in 1e6 cells/mL, ...). A column map may say
that a user's column is in another unit; :func:`convert` brings the values to the canonical
unit and :func:`to_unit` goes back. Conversions are affine (``canonical = a * x + b``), so
temperatures work too.

Molar masses (g/mol) used for mass <-> molar concentrations: glucose 180.16, lactate 90.08
(lactic acid), glutamine 146.14, ammonia (NH3) 17.03.

Unit strings are matched loosely: case, spaces, ``°``, ``µ``/``u``, ``x10^6``/``1e6`` and the
word ``cells`` do not matter (``"°C"``, ``"deg C"`` and ``"degc"`` are the same unit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError, UnknownUnitError, suggest

#: Pseudo-unit of a time column holding dates/times instead of elapsed time.
TIMESTAMP = "timestamp"
_TIMESTAMP_ALIASES = ("timestamp", "datetime", "date", "iso8601", "date time")

_MAX_UNIX_S = 2e11  # about year 8000: a larger number is not a Unix time in seconds

MOLAR_MASS_G_MOL: dict[str, float] = {
    "glucose_g_L": 180.16,
    "feed_glucose_g_L": 180.16,
    "lactate_g_L": 90.08,
    "glutamine_mM": 146.14,
    "ammonia_mM": 17.03,
}


@dataclass(frozen=True)
class Unit:
    """One unit of a dimension: ``base = scale * value + offset``."""

    name: str
    scale: float
    offset: float = 0.0
    aliases: tuple[str, ...] = ()


# Dimensions: unit -> base unit of the dimension (first entry's scale is not special).
_FRACTION = (
    Unit("%", 0.01, aliases=("percent", "pct", "% sat", "% air sat", "% air saturation")),
    Unit("fraction", 1.0, aliases=("frac", "ratio", "0-1")),
)
_PH = (Unit("pH", 1.0, aliases=("ph units", "-log[h+]")),)
_TEMPERATURE = (
    Unit("degC", 1.0, aliases=("°C", "C", "deg C", "celsius", "oC", "℃")),
    Unit("degF", 5.0 / 9.0, -32.0 * 5.0 / 9.0, aliases=("°F", "F", "deg F", "fahrenheit")),
    Unit("K", 1.0, -273.15, aliases=("kelvin",)),
)
_VOLUME = (
    Unit("L", 1.0, aliases=("l", "litre", "liter", "litres", "liters", "dm3")),
    Unit("mL", 1e-3, aliases=("millilitre", "milliliter", "cm3", "cc")),
    Unit("m3", 1e3, aliases=("m^3", "cubic metre", "cubic meter")),
)
_SPEED = (Unit("rpm", 1.0, aliases=("1/min", "min-1", "/min", "rev/min")),)
_FLOW = (  # base mL/h
    Unit("mL/h", 1.0, aliases=("mL/hr", "mL per h", "mlph")),
    Unit("L/h", 1e3, aliases=("L/hr",)),
    Unit("L/day", 1e3 / 24, aliases=("L/d", "L per day")),
    Unit("mL/day", 1 / 24, aliases=("mL/d", "mL per day")),
    Unit("mL/min", 60.0, aliases=("ccm",)),
    Unit("L/min", 6e4, aliases=("lpm",)),
    Unit("sccm", 60.0, aliases=("mLn/min", "NmL/min")),
    Unit("slpm", 6e4, aliases=("sL/min", "NL/min", "Ln/min")),
    Unit("m3/h", 1e6, aliases=("m^3/h",)),
)
_CELLS = (  # base cells/mL
    Unit("1e6 cells/mL", 1e6, aliases=("1e6/mL", "x10^6 cells/mL", "million cells/mL", "e6/mL")),
    Unit("1e5 cells/mL", 1e5, aliases=("1e5/mL", "x10^5 cells/mL")),
    Unit("cells/mL", 1.0, aliases=("/mL", "1/mL")),
    Unit("cells/L", 1e-3, aliases=("/L", "1/L")),
    Unit("1e9 cells/L", 1e6, aliases=("1e9/L", "x10^9 cells/L")),
)
_MASS_CONC = (  # base g/L
    Unit("g/L", 1.0, aliases=("mg/mL", "kg/m3")),
    Unit("mg/L", 1e-3, aliases=("ug/mL", "µg/mL", "ppm")),
    Unit("mg/dL", 1e-2, aliases=("mg/100mL", "mg%")),
    Unit("ng/mL", 1e-6, aliases=("ug/L", "µg/L")),
)
_MOLAR_CONC = (  # base mol/L; turned into g/L with the variable's molar mass
    Unit("mmol/L", 1e-3, aliases=("mM",)),
    Unit("mol/L", 1.0, aliases=("M",)),
    Unit("umol/L", 1e-6, aliases=("uM", "µM", "µmol/L")),
)
_TIME = (  # base h
    Unit("h", 1.0, aliases=("hr", "hrs", "hour", "hours")),
    Unit("min", 1 / 60, aliases=("minute", "minutes", "mins")),
    Unit("s", 1 / 3600, aliases=("sec", "secs", "second", "seconds")),
    Unit("d", 24.0, aliases=("day", "days")),
)


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


def _dimension(variable: str) -> tuple[Unit, ...]:
    """Units accepted for ``variable`` (canonical variable or ``time_h``)."""
    if variable == schema.TIME:
        return _TIME
    try:
        unit = schema.variable(variable).unit
    except KeyError as err:
        raise ConfigError(str(err).strip("\"'")) from None
    if variable in MOLAR_MASS_G_MOL:
        m = MOLAR_MASS_G_MOL[variable]
        molar = tuple(Unit(u.name, u.scale * m, u.offset, u.aliases) for u in _MOLAR_CONC)
        return _MASS_CONC + molar
    for dim in (_FRACTION, _PH, _TEMPERATURE, _VOLUME, _SPEED, _FLOW, _CELLS, _MASS_CONC):
        if any(_matches(u, unit) for u in dim):
            return dim
    raise ConfigError(f"no unit conversions are defined for {variable} ({unit})")


def _matches(u: Unit, text: str) -> bool:
    key = normalize_unit(text)
    return key in {normalize_unit(n) for n in (u.name, *u.aliases)}


def canonical_unit(variable: str) -> str:
    """Unit the batch table stores ``variable`` in (``h`` for ``time_h``)."""
    return "h" if variable == schema.TIME else schema.variable(variable).unit


def known_units(variable: str) -> list[str]:
    """Unit names accepted for ``variable`` (aliases not listed)."""
    return [u.name for u in _dimension(variable)]


def find_unit(variable: str, unit: str) -> Unit:
    """The :class:`Unit` of ``variable`` spelt ``unit``; raises UnknownUnitError."""
    dim = _dimension(variable)
    for u in dim:
        if _matches(u, unit):
            return u
    known = known_units(variable)
    if variable == schema.TIME:
        known = [*known, TIMESTAMP]
    close = suggest(unit, [a for u in dim for a in (u.name, *u.aliases)])
    err = UnknownUnitError(unit, variable=variable, known=known)
    if close:
        err.message += f" (did you mean {close[0]!r}?)"
    raise err


def is_timestamp(unit: str) -> bool:
    """Whether a time unit means "dates/times" rather than elapsed time."""
    return normalize_unit(unit) in {normalize_unit(a) for a in _TIMESTAMP_ALIASES}


def check_unit(variable: str, unit: str) -> None:
    """Raise UnknownUnitError (or ConfigError for an unknown variable) if not convertible."""
    if variable == schema.TIME and is_timestamp(unit):
        return
    find_unit(variable, unit)


def convert(values: Sequence[float] | np.ndarray, variable: str, from_unit: str) -> np.ndarray:
    """Values of ``variable`` in ``from_unit`` -> float array in the canonical unit."""
    x = np.asarray(values, dtype=float)
    src = find_unit(variable, from_unit)
    dst = find_unit(variable, canonical_unit(variable))
    if src == dst:
        return x.copy()
    return ((x * src.scale + src.offset) - dst.offset) / dst.scale


def to_unit(values: Sequence[float] | np.ndarray, variable: str, unit: str) -> np.ndarray:
    """Canonical values of ``variable`` -> float array in ``unit`` (inverse of convert)."""
    x = np.asarray(values, dtype=float)
    src = find_unit(variable, canonical_unit(variable))
    dst = find_unit(variable, unit)
    if src == dst:
        return x.copy()
    return ((x * src.scale + src.offset) - dst.offset) / dst.scale


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
