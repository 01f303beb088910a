"""Which column of a process plays each part the rules check (:class:`RuleVariables`).

The day-one rules are written once, against *parts* named like the CHO columns (``do_pct``
for dissolved oxygen in % air saturation, ``ph``, ``temperature_C``, ``volume_L``,
``feed_rate_mL_h``...). A process names its variables its own way (the microbial preset has
``do_mg_L`` and ``feed_flow_L_h``), so the rules read a *view* of the rows: each part's
column, converted to the part's unit by a fixed factor (mg/L -> % through the process's
saturation concentration, L/h -> mL/h). Results and reasons then name the process's column
again.

Parts come from the process definition:

- physical parts, any process: dissolved oxygen (the variable flagged ``dissolved_oxygen``),
  pH and its set point, temperature and its set point, volume, the primary feed, base
  addition, agitation, aeration, CO2 sparge -- found by name and unit;
- CHO-only parts (``glucose_g_L``, ``vcd_1e6_cells_mL``, ``viability_pct``): their
  thresholds (starvation at 0.5 g/L glucose, VCD and viability drops) are CHO physiology, so
  they apply only where the process has those very columns, or where the config maps a
  column to them explicitly (``anomaly.rules.variables: {glucose_g_L: substrate_g_L}``).

A part without a column leaves its rules out. Stored as plain strings and floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from forecaster import schema
from forecaster.data import unit_registry
from forecaster.data.process import Process, ProcessVariable, default_process

#: Parts whose thresholds are CHO physiology: matched only by their own name (or a mapping).
CHO_ONLY: tuple[str, ...] = ("glucose_g_L", "vcd_1e6_cells_mL", "viability_pct")

#: Physical parts: (role, unit of the part, name pattern) used to find a process's column.
PHYSICAL: dict[str, tuple[tuple[str, ...], str, str]] = {
    "do_pct": (("online",), "%", r"(^|_)(do|dissolved_?oxygen|po2)(_|$)"),
    "do_setpoint_pct": (("setpoint",), "%", r"(^|_)(do|dissolved_?oxygen|po2)(_|$)"),
    "ph": (("online",), "pH", r"(^|_)ph(_|$)"),
    "ph_setpoint": (("setpoint",), "pH", r"(^|_)ph(_|$)"),
    "temperature_C": (("online",), "degC", r"(^|_)(temperature|temp)(_|$)"),
    "temperature_setpoint_C": (("setpoint",), "degC", r"(^|_)(temperature|temp)(_|$)"),
    "volume_L": (("online",), "L", r"(^|_)(volume|vol|weight)(_|$)"),
    "feed_rate_mL_h": (("control",), "mL/h", r"(^|_)feed(_|$)"),
    "base_rate_mL_h": (("control",), "mL/h", r"(^|_)base(_|$)"),
    "agitation_rpm": (("control",), "rpm", r"(^|_)(agitation|stirrer|stirring|rpm)(_|$)"),
    "airflow_L_min": (("control",), "L/min", r"(^|_)(air|airflow|aeration|sparge)(_|$)"),
    "co2_flow_mL_min": (("control",), "mL/min", r"(^|_)co2(_|$)"),
}


@dataclass(frozen=True)
class RuleVariables:
    """The process column of each rule part, and the factor to the part's unit.

    Attributes:
        columns: ``{part: column}`` (``{"do_pct": "do_mg_L", ...}``); a part not listed has
            no column and its rules do not apply.
        scale: ``{part: factor}``: part value (part unit) = factor x column value (only
            where it is not 1).
        units: ``{part: the column's unit}`` where ``scale`` converts it.
    """

    columns: dict[str, str] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    @classmethod
    def cho(cls) -> RuleVariables:
        """Every part is the CHO column of the same name (the rules as first written)."""
        return cls({p: p for p in (*PHYSICAL, *CHO_ONLY)})

    @classmethod
    def resolve(
        cls, process: Process | None = None, mapping: Mapping[str, str] | None = None
    ) -> RuleVariables:
        """Parts of ``process`` (default: the CHO preset), then the explicit ``mapping``.

        Args:
            process: the run's process definition.
            mapping: ``{part: column}`` set by the user (``anomaly.rules.variables``); a
                column outside the process raises ValueError.

        Raises:
            ValueError: a mapped part or column is unknown.
        """
        process = process or default_process()
        by_name = {v.name: v for v in process.variables}
        cols: dict[str, str] = {p: p for p in CHO_ONLY if p in by_name}
        for part, (roles, _, pattern) in PHYSICAL.items():
            found = _find(process, part, roles, pattern)
            if found is not None:
                cols[part] = found.name
        for part, column in (mapping or {}).items():
            if part not in PHYSICAL and part not in CHO_ONLY:
                raise ValueError(
                    f"anomaly.rules.variables: {part!r} is not a rule part; expected one of "
                    f"{sorted([*PHYSICAL, *CHO_ONLY])}"
                )
            if column not in by_name:
                raise ValueError(
                    f"anomaly.rules.variables.{part}: {column!r} is not a variable of process "
                    f"{process.name} (it has {list(by_name)})"
                )
            cols[part] = column
        columns, scale, units = {}, {}, {}
        for part, column in cols.items():
            f = _factor(part, by_name[column], process)
            if f is None:  # a unit the part cannot be read in: the part does not apply
                continue
            columns[part] = column
            if abs(f - 1.0) > 1e-12:
                scale[part], units[part] = f, by_name[column].unit
        return cls(columns, scale, units)

    def to_dict(self) -> dict:
        return asdict(self)

    def column(self, part: str) -> str:
        """The process column playing ``part`` (``part`` itself when not mapped)."""
        return self.columns.get(part, part)

    def part_to_column(self, part: str, x: float) -> float:
        """A value of ``part`` in the part's unit -> the column's unit."""
        return x / self.scale.get(part, 1.0)

    def view(self, rows) -> dict[str, np.ndarray]:
        """``{name: (T,) float}``: every column of ``rows`` as it is, plus each part under
        its part name, in the part's unit. A CHO column that is not its part's column
        (a CHO name in a non-CHO table) is hidden from the parts."""
        out = {c: np.asarray(rows[c], dtype=float) for c in rows if _numeric(rows, c)}
        for part in (*PHYSICAL, *CHO_ONLY):
            column = self.columns.get(part)
            if column is None or column not in rows:
                out.pop(part, None)
                continue
            out[part] = np.asarray(rows[column], dtype=float) * self.scale.get(part, 1.0)
        return out

    def needed(self) -> list[str]:
        """Columns the rules read (what a stream must keep)."""
        return list(dict.fromkeys(self.columns.values()))


def guess_process(columns) -> Process:
    """The preset whose variables cover most of ``columns`` (the CHO preset on a tie)."""
    from forecaster.data.process import PRESETS

    cols = set(columns)
    best = max(PRESETS, key=lambda n: (len(cols & set(PRESETS[n]().names)), n == "cho_fedbatch"))
    return PRESETS[best]()


def _numeric(rows, c: str) -> bool:
    if c == schema.BATCH_ID or c == schema.FAULT_TYPE:
        return False
    try:
        np.asarray(rows[c], dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def _find(
    process: Process, part: str, roles: tuple[str, ...], pattern: str
) -> ProcessVariable | None:
    """The variable of ``process`` playing ``part``: the same name first, then by pattern."""
    cands = [v for v in process.variables if v.role in roles]
    same = [v for v in cands if v.name == part]
    if same:
        return same[0]
    if part == "do_pct":
        flagged = [v for v in cands if v.dissolved_oxygen]
        if flagged:
            return flagged[0]
    if part == "feed_rate_mL_h" and process.feed is not None:
        return next((v for v in cands if v.name == process.feed), None)
    rx = re.compile(pattern, re.IGNORECASE)
    hits = [v for v in cands if rx.search(v.name)]
    return hits[0] if len(hits) == 1 else None


def _factor(part: str, var: ProcessVariable, process: Process) -> float | None:
    """Factor from ``var``'s unit to the part's unit (None: not convertible by a factor)."""
    target = PHYSICAL[part][1] if part in PHYSICAL else var.unit
    if var.unit == target:
        return 1.0
    csat = process.saturation_mg_L() if part.startswith("do_") else None
    try:
        a, b = unit_registry.affine(var.unit, target, csat=csat)
    except (ValueError, TypeError, AttributeError):  # pint's DimensionalityError is a TypeError
        return None
    return float(a) if abs(b) < 1e-12 else None
