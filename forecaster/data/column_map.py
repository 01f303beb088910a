"""Column map: how a user's table names and units its columns.

Example (YAML in a config, stored as ``column_map.json`` in the run folder)::

    column_map:
      batch_id: Run
      time: Timestamp
      time_unit: timestamp          # or h, min, s, d
      time_zone: Europe/Berlin      # local times without an offset (daylight saving resolved)
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
from forecaster.data.errors import ConfigError, DataError, UnknownUnitError, combine, suggest
from forecaster.data.local_time import zone_problem
from forecaster.data.process import Process, all_preset_names

#: Canonical columns a user's column may be mapped to (without a process definition: any
#: variable of a preset).
TARGETS: tuple[str, ...] = schema.KEYS + schema.VARIABLE_NAMES + schema.LABEL_COLUMNS


def _targets(process: Process | None) -> tuple[str, ...]:
    # A preset's variable that the process dropped may still be mapped: it is left out.
    names = all_preset_names() if process is None else process.names + all_preset_names()
    return tuple(dict.fromkeys(schema.KEYS + names + schema.LABEL_COLUMNS))


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
        time_zone: IANA zone (``Europe/Berlin``) of timestamps written without an offset:
            they are local wall-clock times, an hour repeated or skipped by daylight saving
            is resolved per batch. None: such timestamps are taken as UTC. Timestamps with
            an offset ignore it.
    """

    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    batch_id: str = schema.BATCH_ID
    time: str = schema.TIME
    time_unit: str = "h"
    time_zone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON / YAML safe); ``time_zone`` only when set."""
        out = {
            "columns": dict(self.columns),
            "units": dict(self.units),
            "batch_id": self.batch_id,
            "time": self.time,
            "time_unit": self.time_unit,
        }
        if self.time_zone is not None:
            out["time_zone"] = self.time_zone
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | None, process: Process | None = None, check: bool = True
    ) -> ColumnMap:
        """Build and validate from plain values; unknown keys raise ConfigError."""
        if data is None:
            return cls()  # nothing to check: canonical names, canonical units
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
        if check:
            cmap.validate(process)
        return cmap

    def validate(self, process: Process | None = None) -> None:
        """Check types, targets and units; raise every problem at once.

        Raises:
            ConfigError / UnknownUnitError: one problem; DataProblems: several.
        """
        problems = self.problems(process)
        if problems:
            raise combine(problems, what="problems in data.column_map")

    def problems(self, process: Process | None = None) -> list[DataError]:
        """Every problem of the map (types first: later checks need them right)."""
        for name in ("columns", "units"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigError(f"column map: {name} must map strings to strings")
        for name in ("batch_id", "time", "time_unit"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"column map: {name} must be a non-empty string")
        targets = _targets(process)
        names = targets[len(schema.KEYS) :]
        out: list[DataError] = []
        if self.time_zone is not None:
            bad_zone = zone_problem(self.time_zone)
            if bad_zone is None and not units.is_timestamp(self.time_unit):
                bad_zone = ConfigError(
                    f"column map: time_zone {self.time_zone!r} is set but time_unit is "
                    f"{self.time_unit!r}; a zone applies to dates/times",
                    fix="set data.column_map.time_unit: timestamp, or remove time_zone",
                )
            if bad_zone is not None:
                out.append(bad_zone)
        for theirs, target in self.columns.items():
            if target not in targets:
                close = suggest(target, targets)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                out.append(ConfigError(
                    f"column map: {theirs!r} is mapped to unknown column {target!r}{hint}"
                ))  # fmt: skip
        try:
            pairs = list(self._pairs().items())
        except ConfigError as err:
            return [*out, err]
        for t in dict.fromkeys(t for _, t in pairs):
            from_ = [s for s, tt in pairs if tt == t]
            if len(from_) > 1:
                out.append(ConfigError(
                    f"column map: {', '.join(repr(s) for s in from_)} are all mapped to {t}"
                    " (a variable declared twice)"
                ))  # fmt: skip
        for variable, unit in self.units.items():
            if variable == schema.TIME:
                out.append(ConfigError("column map: give the time unit as time_unit, not units"))
                continue
            if variable not in names:
                close = suggest(variable, names)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                out.append(
                    ConfigError(f"column map: units names unknown variable {variable!r}{hint}")
                )
                continue
            if process is not None and variable not in process.names:
                continue  # dropped from the process: the column is left out
            try:
                units.check_unit(variable, unit, process)
            except UnknownUnitError as err:
                theirs = self.source_name(variable)
                if theirs != variable:
                    err.column, err.variable = theirs, variable
                err.fix = f"set data.column_map.units.{variable} to the unit of that column"
                out.append(err)
        try:
            units.check_unit(schema.TIME, self.time_unit)
        except UnknownUnitError as err:
            out.append(err)
        return out

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
