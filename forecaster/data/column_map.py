"""Column map: how a user's table names and units its columns.

Example (YAML in a config, stored as ``column_map.json`` in the run folder)::

    column_map:
      batch_id: Run
      time: Timestamp
      time_unit: timestamp          # or h, min, s, d
      columns: {"Glucose (mmol/L)": glucose_g_L, "VCD": vcd_1e6_cells_mL}
      units: {glucose_g_L: mmol/L, vcd_1e6_cells_mL: cells/mL}

Columns not named in the map keep their names: canonical names are used as they are, other
columns are kept and ignored by the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from forecaster import schema
from forecaster.data import units
from forecaster.data.errors import ConfigError, suggest

#: Canonical columns a user's column may be mapped to.
TARGETS: tuple[str, ...] = schema.KEYS + schema.VARIABLE_NAMES + schema.LABEL_COLUMNS


@dataclass
class ColumnMap:
    """Their column names and units -> canonical ones.

    Attributes:
        columns: their column name -> canonical variable, key or label column.
        units: canonical variable -> the unit their column is in.
        batch_id: their batch-id column.
        time: their time column.
        time_unit: unit of their time column (``h``, ``min``, ``s``, ``d``) or
            ``timestamp`` (dates/times; converted to hours since each batch's first row).
    """

    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    batch_id: str = schema.BATCH_ID
    time: str = schema.TIME
    time_unit: str = "h"

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON / YAML safe)."""
        return {
            "columns": dict(self.columns),
            "units": dict(self.units),
            "batch_id": self.batch_id,
            "time": self.time,
            "time_unit": self.time_unit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ColumnMap:
        """Build and validate from plain values; unknown keys raise ConfigError."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"column map must be a mapping, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                close = suggest(str(key), names)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"unknown column-map key {key!r}{hint}", expected="one of " + ", ".join(names)
                )
        cmap = cls(**{k: data[k] for k in names if k in data and data[k] is not None})
        cmap.validate()
        return cmap

    def validate(self) -> None:
        """Check types, targets and units; raise ConfigError / UnknownUnitError."""
        for name in ("columns", "units"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigError(f"column map: {name} must map strings to strings")
        for name in ("batch_id", "time", "time_unit"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"column map: {name} must be a non-empty string")
        for theirs, target in self.columns.items():
            if target not in TARGETS:
                close = suggest(target, TARGETS)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"column map: {theirs!r} is mapped to unknown column {target!r}{hint}"
                )
        pairs = list(self._pairs().items())
        for t in {t for _, t in pairs}:
            from_ = [s for s, tt in pairs if tt == t]
            if len(from_) > 1:
                raise ConfigError(
                    f"column map: {', '.join(repr(s) for s in from_)} are all mapped to {t}"
                )
        for variable, unit in self.units.items():
            if variable == schema.TIME:
                raise ConfigError("column map: give the time unit as time_unit, not in units")
            if variable not in schema.VARIABLE_NAMES:
                close = suggest(variable, schema.VARIABLE_NAMES)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"column map: units names unknown variable {variable!r}{hint}")
            units.check_unit(variable, unit)
        units.check_unit(schema.TIME, self.time_unit)

    def _pairs(self) -> dict[str, str]:
        """Their name -> target for every column the map mentions (identity included)."""
        out = {k.strip(): v for k, v in self.columns.items()}
        # The key fields count unless left at their default while `columns` maps the key.
        for theirs, key in ((self.batch_id, schema.BATCH_ID), (self.time, schema.TIME)):
            if theirs != key or key not in out.values():
                if out.get(theirs.strip(), key) != key:
                    raise ConfigError(
                        f"column map: {theirs!r} is mapped to both {out[theirs.strip()]} and {key}"
                    )
                out[theirs.strip()] = key
        return out

    def renames(self) -> dict[str, str]:
        """Their column name -> canonical name, for every renamed column."""
        return {k: v for k, v in self._pairs().items() if k != v}

    def source_name(self, canonical: str) -> str:
        """Their name of a canonical column (the canonical name if not mapped)."""
        for theirs, target in self.renames().items():
            if target == canonical:
                return theirs
        return canonical
