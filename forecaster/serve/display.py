"""Outputs in the user's language: their column names, their units, their dates.

Prediction works in canonical names and units (``titer_mg_L`` in mg/L, feed in mL/h, hours
since inoculation). :class:`OutputNames` turns the tables of a
:class:`~forecaster.serve.predict.Predictions` into what the user's export looked like,
from the run's process definition and column map:

- the product columns are named after the user's product column and its unit:
  ``harvest_<stem>_<unit>``, ``harvest_<stem>_p10_<unit>``, ``harvest_<stem>_p90_<unit>``
  (trajectories: ``<stem>_<unit>``, ...), where ``<stem>`` is their column name without its
  unit annotation and ``<unit>`` the unit of their column, both reduced to letters, digits
  and ``_`` (``Titer (g/L)`` -> ``harvest_Titer_g_L``; ``%`` -> ``pct``);
- the feed is ``feed_next_<unit>`` in the unit of their feed column (``feed_next_L_day``);
  a process without a feed has a ``feed_next`` column saying ``no feed to recommend``;
- values are converted from the canonical unit into theirs (:func:`forecaster.data.units.to_unit`);
- top variables and attributions name their columns;
- when their time column held dates/times, ``last_time`` (predictions), ``start_time``,
  ``raised_time``, ``end_time`` (alarms) and ``time`` (trajectories: the day's hour) give
  them back in the format and time zone read, beside the hours (``*_h``, ``day``).

With the identity column map (simulated data) every table is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.reasons import Vocabulary
from forecaster.data.column_map import ColumnMap
from forecaster.data.io import TIME_ORIGIN
from forecaster.data.process import Process, default_process
from forecaster.data.units import canonical_unit, to_unit

#: what the feed column says for a process without a feed (instead of numbers)
NO_FEED = "no feed to recommend"
#: its column in ``predictions.csv`` then
NO_FEED_COLUMN = "feed_next"

_ANNOTATION = re.compile(r"\s*[(\[][^)\]]*[)\]]\s*$")


def slug(text: str) -> str:
    """Letters, digits and ``_`` only (``"g/L"`` -> ``"g_L"``, ``"%"`` -> ``"pct"``)."""
    text = str(text).replace("%", "pct").replace("°", "deg")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


@dataclass(frozen=True)
class OutputNames:
    """The user's names, units and batch start dates for the outputs of one run.

    Attributes:
        process: the run's process definition.
        column_map: the run's column map (identity for simulated data).
        starts: batch id -> first timestamp as read (empty: the input had hours).
        time_format: strftime format of the input's dates (None: ``%Y-%m-%d %H:%M``).
    """

    process: Process = field(default_factory=default_process)
    column_map: ColumnMap = field(default_factory=ColumnMap)
    starts: Mapping[str, pd.Timestamp] = field(default_factory=dict)
    time_format: str | None = None

    @classmethod
    def for_table(cls, process: Process, column_map: ColumnMap, attrs: Mapping[str, Any]):
        """From a run's definitions and the ``attrs`` of the table read (batch starts)."""
        origin = attrs.get(TIME_ORIGIN) or {}
        return cls(process, column_map, dict(origin.get("starts") or {}), origin.get("format"))

    def merged(self, other: OutputNames | None) -> OutputNames:
        """These names with the batch starts of ``other`` added (chunks of one file)."""
        if other is None:
            return self
        return replace(self, starts={**self.starts, **other.starts},
                       time_format=self.time_format or other.time_format)  # fmt: skip

    # ------------------------------------------------------------- names and units
    @cached_property
    def _theirs(self) -> dict[str, str]:
        return {ours: theirs for theirs, ours in reversed(self.column_map.renames().items())}

    def column(self, var: str) -> str:
        """Their column name of a canonical variable."""
        return self._theirs.get(var, var)

    def unit(self, var: str) -> str:
        """The unit of their column (the canonical unit when not converted)."""
        return self.column_map.units.get(var) or self._canonical_unit(var)

    def _canonical_unit(self, var: str) -> str:
        try:
            return canonical_unit(var, self.process)
        except Exception:  # a derived name outside the process: no unit to say
            return ""

    def convert(self, var: str, values) -> np.ndarray:
        """Canonical values of ``var`` -> their unit (unchanged when not converted)."""
        x = np.asarray(values, dtype=float)
        if var not in self.column_map.units:
            return x
        return to_unit(x, var, self.column_map.units[var], self.process)

    def stem(self, var: str) -> str:
        """Their column name without its unit, as letters, digits and ``_``."""
        name = self.column(var)
        stem = slug(_ANNOTATION.sub("", name) or name)
        tail = "_" + slug(self.unit(var))
        return stem[: -len(tail)] if stem.endswith(tail) and len(stem) > len(tail) else stem

    @property
    def product(self) -> str:
        """The process's product (the forecasting target)."""
        return self.process.product

    def headers(self) -> dict[str, str]:
        """Canonical output header -> the user's (identity for simulated data)."""
        p, u = self.stem(self.product), slug(self.unit(self.product))
        out = {
            "harvest_titer_mg_L": f"harvest_{p}_{u}",
            "harvest_titer_p10_mg_L": f"harvest_{p}_p10_{u}",
            "harvest_titer_p90_mg_L": f"harvest_{p}_p90_{u}",
            "titer_mg_L": f"{p}_{u}",
            "titer_p10_mg_L": f"{p}_p10_{u}",
            "titer_p90_mg_L": f"{p}_p90_{u}",
        }
        if self.process.feed is not None:
            out["feed_next_mL_h"] = f"feed_next_{slug(self.unit(self.process.feed))}"
        else:
            out["feed_next_mL_h"] = NO_FEED_COLUMN
        return out

    def vocabulary(self, batch_id: str | None = None) -> Vocabulary:
        """What alarm reasons of ``batch_id`` speak in (its start date included)."""
        names = {v: self._theirs[v] for v in self.process.names if v in self._theirs}
        start = self.starts.get(str(batch_id)) if batch_id is not None else None
        return Vocabulary(names, dict(self.column_map.units), self.process, start,
                          self.time_format)  # fmt: skip

    def stamps(self, batch_ids, hours) -> list[str | None]:
        """Hours since each batch's start -> their date/time text (None where unknown)."""
        fmt = self.time_format or "%Y-%m-%d %H:%M"
        out: list[str | None] = []
        for b, h in zip(batch_ids, hours):
            start = self.starts.get(str(b))
            ok = start is not None and h is not None and np.isfinite(float(h))
            out.append((start + pd.Timedelta(hours=float(h))).strftime(fmt) if ok else None)
        return out

    # ------------------------------------------------------------------- tables
    def predictions(self, df: pd.DataFrame) -> pd.DataFrame:
        """``predictions.csv`` in their names, units and dates."""
        out = self._values(df, {"feed_next_mL_h": self.process.feed,
                                "harvest_titer_mg_L": self.product,
                                "harvest_titer_p10_mg_L": self.product,
                                "harvest_titer_p90_mg_L": self.product})  # fmt: skip
        if self.process.feed is None and "feed_next_mL_h" in out.columns:
            out["feed_next_mL_h"] = NO_FEED
        if "top_variables" in out.columns:
            out["top_variables"] = [self._names(s) for s in out["top_variables"]]
        out = self._times(out, {"last_time_h": "last_time"})
        return out.rename(columns=self.headers())

    def trajectories(self, df: pd.DataFrame) -> pd.DataFrame:
        """``trajectories.csv``: the daily product curve in their unit (dates: ``time``)."""
        cols = ("titer_p10_mg_L", "titer_mg_L", "titer_p90_mg_L")
        out = self._values(df, dict.fromkeys(cols, self.product))
        if self.starts and "day" in out.columns:
            out.insert(out.columns.get_loc("day") + 1, "time",
                       self.stamps(out[schema.BATCH_ID], 24.0 * out["day"].astype(float)))  # fmt: skip
        return out.rename(columns=self.headers())

    def alarms(self, df: pd.DataFrame) -> pd.DataFrame:
        """``alarms.csv``: top variables named as their columns, dates beside the hours."""
        out = df.copy()
        if "top_variables" in out.columns:
            out["top_variables"] = [self._names(s, shares=True) for s in out["top_variables"]]
        return self._times(out, {k: k[:-2] + "_time" for k in ("start_h", "raised_h", "end_h")})

    def attributions(self, df: pd.DataFrame) -> pd.DataFrame:
        """``attributions.csv`` naming their columns."""
        out = df.copy()
        if "variable" in out.columns:
            out["variable"] = [self.column(str(v)) for v in out["variable"]]
        return out

    def _values(self, df: pd.DataFrame, columns: Mapping[str, str | None]) -> pd.DataFrame:
        out = df.copy()
        for col, var in columns.items():
            if var is not None and col in out.columns and var in self.column_map.units:
                out[col] = self.convert(var, out[col].to_numpy(dtype=float))
        return out

    def _times(self, df: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
        if not self.starts:
            return df
        out = df.copy()
        for col, name in columns.items():
            if col in out.columns:
                out.insert(out.columns.get_loc(col) + 1, name,
                           self.stamps(out[schema.BATCH_ID], out[col]))  # fmt: skip
        return out

    def _names(self, text, shares: bool = False) -> str:
        """``"do_pct:0.71;ph:0.2"`` -> ``"DO (%):0.71;pH:0.2"`` (``shares``: with ``:x``)."""
        if not isinstance(text, str) or not text:
            return text
        parts = []
        for item in text.split(";"):
            var, sep, rest = item.rpartition(":") if shares and ":" in item else (item, "", "")
            parts.append(self.column(var) + sep + rest)
        return ";".join(parts)
