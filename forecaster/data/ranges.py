"""Range checks of a batch table against the process definition, said in the user's terms.

Bounds come from the process (preset or ``data.process.ranges``); a message names the user's
column and unit, and the config change that fixes it (``declare
data.process.ranges.volume_L: [0, 120000] (L)``). A range that most of a column's values miss
is said to be suspect: the unit or the range is wrong, not the data.
"""

from __future__ import annotations

import numpy as np

from forecaster import schema
from forecaster.data import units
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import RangeError, UnknownUnitError
from forecaster.data.process import Process


def check_ranges(
    values: dict[str, np.ndarray],
    found,
    err,
    process: Process,
    names: Names,
    unchecked: set[str],
) -> None:
    """Values outside the valid range (infinities included), in the user's unit.

    A range that most of a column's values miss says so: the unit or the range is wrong,
    not the data.
    """
    bounds = {
        v.name: (v.lo, v.hi)
        for v in process.variables
        if v.name in values and v.name not in unchecked
    }
    if schema.FAULT_LABEL in values:
        bounds[schema.FAULT_LABEL] = (0.0, 1.0)
    for col, (lo, hi) in bounds.items():
        v = values[col]
        with np.errstate(invalid="ignore"):
            bad = np.isinf(v) | (v < lo) | (v > hi)
        if not bad.any():
            continue
        finite = np.isfinite(v)
        share = bad.sum() / max(int(finite.sum()), 1)
        unit = names.unit(col)
        shown_lo, shown_hi = sorted(names.values(col, np.array([lo, hi])))
        expected = f"{shown_lo:g} to {shown_hi:g} {unit}".strip()
        fix = None
        # A plant larger than the preset's shows as many out-of-range rows; a few are bad data.
        if col != schema.FAULT_LABEL and bad.sum() >= 3 and share >= 0.25:
            fix = _range_fix(col, v[finite], lo, hi, process.variable(col).unit)

        def message(pos, col=col, share=share, unit=unit, finite=finite):
            shown = names.values(col, values[col][pos])
            one = f"value {_fmt(shown[0])} is outside the physical range"
            if share > 0.5 and pos.size > 1 and finite.any():
                seen = names.values(col, values[col][finite])
                return (
                    f"most values ({100 * share:.0f} %) are outside the declared range; observed "
                    f"{np.nanmin(seen):g} to {np.nanmax(seen):g} {unit}: is the unit (data."
                    f"column_map.units) or the range (data.process.ranges.{col}) wrong?"
                )
            if pos.size > 1:
                return f"{one} ({pos.size} values, {np.nanmin(shown):g} to {np.nanmax(shown):g} {unit})"
            return one

        found.add(bad, err(RangeError, message, col, expected, fix))


def _range_fix(col: str, seen: np.ndarray, lo: float, hi: float, unit: str) -> str | None:
    """``declare data.process.ranges.volume_L: [0, 120000] (L)`` covering what was seen."""
    if not seen.size:
        return None
    new_lo = lo if seen.min() >= lo else -_round_up(2 * abs(float(seen.min())))
    new_hi = hi if seen.max() <= hi else _round_up(2 * float(seen.max()))
    if new_lo < 0 <= lo:
        return f"fix the negative values, or declare data.process.ranges.{col}: [{new_lo:g}, {new_hi:g}] ({unit})"
    return f"if the values are right, declare data.process.ranges.{col}: [{new_lo:g}, {new_hi:g}] ({unit})"


def _round_up(x: float) -> float:
    """``117085.8`` -> ``120000``: two significant digits, up."""
    if x <= 0:
        return 1.0
    step = 10 ** (np.floor(np.log10(x)) - 1)
    return float(np.ceil(x / step) * step)


class Names:
    """The user's column name and unit of a canonical variable, for messages."""

    def __init__(self, process: Process, cmap: ColumnMap | None) -> None:
        self.process, self.cmap = process, cmap

    def column(self, col: str | None) -> str | None:
        return col if col is None or self.cmap is None else self.cmap.source_name(col)

    def unit(self, col: str) -> str:
        if col not in self.process.names:
            return ""
        theirs = None if self.cmap is None else self.cmap.units.get(col)
        return theirs or self.process.variable(col).unit

    def values(self, col: str, x: np.ndarray) -> np.ndarray:
        theirs = None if self.cmap is None else self.cmap.units.get(col)
        if not theirs or col not in self.process.names:
            return np.asarray(x, dtype=float)
        try:
            return units.to_unit(x, col, theirs, self.process)
        except UnknownUnitError:
            return np.asarray(x, dtype=float)


def _fmt(number: float) -> str:
    return f"{number:g}"
