"""Batch-level factors from a batch table: the recipe, the start and the early culture.

One row per batch, one column per factor, read from the long batch table with the
process definition (:mod:`forecaster.data.process`), so any process works:

- *recipe* (controllable, known in advance): each set point (a set point that changes
  during the run becomes three factors: its value at the start, after the change and the
  day of the change -- the temperature shift); each static variable (feed-medium
  concentration); the day the primary feed starts; the seeding density (the first
  cell-density assay).
- *start* (known at start, not set by the recipe): the first assay of every other offline
  variable when it is taken within ``start_window_h`` (media lot, inoculum viability).
- *early* (observed in the early culture): each offline assay on day ``early_day``.

The response is the harvest product titer: the last product assay of a *finished* batch
(one that lasted at least ``finished_fraction`` of the longest batch of the table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError
from forecaster.data.process import Process, default_process

#: Cell-density variables whose first assay is the seeding density (a recipe factor).
SEEDING_VARIABLES: tuple[str, ...] = ("vcd_1e6_cells_mL", "biomass_g_L")
KINDS: tuple[str, ...] = ("recipe", "start", "early")


@dataclass(frozen=True)
class Factor:
    """One batch-level factor.

    Attributes:
        name: stable identifier (``temperature_setpoint_C_end``).
        label: short human name (``T setpoint after change``).
        unit: unit of its values (``degC``, ``day``).
        kind: ``recipe`` (controllable), ``start`` (known at start) or ``early``.
        source: the batch-table variable it is read from.
    """

    name: str
    label: str
    unit: str
    kind: str
    source: str


@dataclass
class BatchFactors:
    """Factors and harvest titer of every batch of a table.

    Attributes:
        X: (batches, factors) factor values, index ``batch_id``; NaN where a batch lacks it.
        y: (batches,) harvest product titer (product unit); NaN for a running batch.
        factors: the columns of ``X`` described, in order.
        product: the product variable; ``product_unit`` its unit, ``product_label`` its name.
        dropped: factor name -> why it was left out (constant in every batch, ...).
    """

    X: pd.DataFrame
    y: pd.Series
    factors: list[Factor]
    product: str
    product_unit: str
    product_label: str
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> pd.Series:
        """(batches,) bool: the batch has a harvest titer."""
        return self.y.notna()

    def names(self, *kinds: str) -> list[str]:
        """Factor names of the given kinds (all when none is given), in column order."""
        return [f.name for f in self.factors if not kinds or f.kind in kinds]

    def factor(self, name: str) -> Factor:
        """The factor called ``name``; raises DataError naming the factors."""
        for f in self.factors:
            if f.name == name:
                return f
        raise DataError(f"unknown factor {name!r}", expected=", ".join(self.names()))


def extract_factors(
    table: pd.DataFrame,
    process: Process | None = None,
    *,
    early_day: float = 2.0,
    lot_columns: tuple[str, ...] | list[str] = (),
    start_window_h: float = 12.0,
    finished_fraction: float = 0.9,
    change_tolerance: float = 0.05,
) -> BatchFactors:
    """Batch-level factors of a canonical long batch table.

    Args:
        table: long batch table (``batch_id``, ``time_h`` and process variables).
        process: the process definition (None: the CHO preset).
        early_day: day of the early-culture observations.
        lot_columns: further columns known at the start, one value per batch (media lot,
            seed train): a numeric one is a start factor, a text one gives one 0/1 start
            factor per value (``Media lot = L12``).
        start_window_h: an assay up to this hour counts as taken at the start.
        finished_fraction: a batch at least this fraction of the longest one is finished.
        change_tolerance: a set point that moves by more than this (its unit) changes.

    Returns:
        :class:`BatchFactors`; constant factors are dropped (listed in ``dropped``).

    Raises:
        DataError: no ``batch_id``/``time_h`` column, no product column, or a lot column
            that is missing or holds two values in one batch.
    """
    process = process or default_process()
    for col in (schema.BATCH_ID, schema.TIME, process.product):
        if col not in table.columns:
            raise DataError("the batch table has no such column", column=col)
    t = table.sort_values([schema.BATCH_ID, schema.TIME], kind="stable")
    groups = t.groupby(schema.BATCH_ID, sort=False)
    cols: dict[str, pd.Series] = {}
    factors: list[Factor] = []

    def add(f: Factor, values: pd.Series) -> None:
        factors.append(f)
        cols[f.name] = values.astype(float)

    for v in process.variables:
        if v.name not in t.columns or v.name == process.product:
            continue
        label = v.label or v.name
        if v.role == "setpoint":
            _setpoint(groups, v.name, label, v.unit, change_tolerance, add)
        elif v.role == "static":
            add(Factor(v.name, label, v.unit, "recipe", v.name), groups[v.name].first())
    if process.feed is not None and process.feed in t.columns:
        feed_label = process.variable(process.feed).label or process.feed
        fed = t[pd.to_numeric(t[process.feed], errors="coerce") > 0]
        start = fed.groupby(schema.BATCH_ID)[schema.TIME].min() / 24.0
        end = groups[schema.TIME].max() / 24.0
        add(Factor(f"{process.feed}_start_day", f"{feed_label} start", "day", "recipe",
                   process.feed), start.reindex(end.index).fillna(end))  # fmt: skip
    offline = [v for v in process.variables if v.role == "offline" and v.name in t.columns]
    for v in offline:
        if v.name == process.product:
            continue
        kind = "recipe" if v.name in SEEDING_VARIABLES else "start"
        first = _assay_at(t, v.name, 0.0, start_window_h)
        add(Factor(f"{v.name}_initial", f"{v.label or v.name} at start", v.unit, kind, v.name),
            first)  # fmt: skip
    for col in lot_columns:
        _lot(t, groups, col, add)
    lo, hi = early_day * 24.0 - start_window_h, early_day * 24.0 + start_window_h
    for v in offline:
        day = f"{early_day:g}"
        add(Factor(f"{v.name}_day{day}", f"{v.label or v.name} on day {day}", v.unit, "early",
                   v.name), _assay_at(t, v.name, lo, hi))  # fmt: skip

    ids = pd.Index(groups.size().index, name=schema.BATCH_ID)
    X = pd.DataFrame({k: s.reindex(ids) for k, s in cols.items()}, index=ids)
    y = _harvest(t, groups, process.product, finished_fraction).reindex(ids)
    keep, dropped = [], {}
    for f in factors:
        values = X[f.name].dropna()
        if len(values) == 0:
            dropped[f.name] = "no value in any batch"
        elif values.nunique() < 2:
            dropped[f.name] = f"the same value ({values.iloc[0]:g}) in every batch"
        elif X[f.name].notna().mean() < 0.5:
            dropped[f.name] = "missing in more than half of the batches"
        else:
            keep.append(f)
    pv = process.variable(process.product)
    return BatchFactors(X[[f.name for f in keep]], y.rename(process.product), keep,
                        process.product, pv.unit, pv.label or pv.name, dropped)  # fmt: skip


def _setpoint(groups, name: str, label: str, unit: str, tol: float, add) -> None:
    """One factor for a fixed set point; start, end and change day for a changing one."""
    first, last = groups[name].first(), groups[name].last()
    if not ((first - last).abs() > tol).any():
        add(Factor(name, label, unit, "recipe", name), groups[name].median())
        return
    add(Factor(f"{name}_start", f"{label} at start", unit, "recipe", name), first)
    add(Factor(f"{name}_end", f"{label} after change", unit, "recipe", name), last)

    def change_day(g: pd.DataFrame) -> float:
        sp = pd.to_numeric(g[name], errors="coerce").to_numpy()
        moved = np.abs(sp - sp[0]) > tol
        t = g[schema.TIME].to_numpy()
        return float(t[np.argmax(moved)] if moved.any() else t[-1]) / 24.0

    days = groups[[schema.TIME, name]].apply(change_day)
    add(Factor(f"{name}_change_day", f"{label} change", "day", "recipe", name), days)


def _lot(t: pd.DataFrame, groups, col: str, add) -> None:
    """A per-batch column known at the start: its value, or one 0/1 factor per text value."""
    if col not in t.columns:
        raise DataError("no such lot column in the batch table", column=col)
    values = t[col].where(t[col].notna())
    if (values.groupby(t[schema.BATCH_ID]).nunique() > 1).any():
        bad = values.groupby(t[schema.BATCH_ID]).nunique()
        raise DataError("a lot column must hold one value per batch", column=col,
                        batch=str(bad[bad > 1].index[0]))  # fmt: skip
    first = values.groupby(t[schema.BATCH_ID], sort=False).first()
    num = pd.to_numeric(first, errors="coerce")
    if num.notna().sum() == first.notna().sum():
        add(Factor(col, col, "", "start", col), num)
        return
    for level in sorted(first.dropna().astype(str).unique()):
        add(Factor(f"{col}={level}", f"{col} = {level}", "0/1", "start", col),
            (first.astype(str) == level).astype(float))  # fmt: skip


def _assay_at(t: pd.DataFrame, name: str, lo_h: float, hi_h: float) -> pd.Series:
    """Per batch, the last non-missing value of ``name`` with ``lo_h <= time_h <= hi_h``."""
    x = pd.to_numeric(t[name], errors="coerce")
    rows = t[x.notna() & (t[schema.TIME] >= lo_h) & (t[schema.TIME] <= hi_h)]
    return pd.to_numeric(rows[name]).groupby(rows[schema.BATCH_ID]).last()


def _harvest(t: pd.DataFrame, groups, product: str, fraction: float) -> pd.Series:
    """Last product assay of each finished batch (NaN for a running one)."""
    length = groups[schema.TIME].max()
    finished = length >= fraction * float(length.max())
    x = pd.to_numeric(t[product], errors="coerce")
    rows = t[x.notna()]
    last = pd.to_numeric(rows[product]).groupby(rows[schema.BATCH_ID]).last()
    return last.reindex(length.index).where(finished)
