"""Column-map assistant: propose a process variable and unit for each column of a file.

Pure functions (no Streamlit): the Data page shows the proposals for the user to correct,
builds a :class:`~forecaster.data.column_map.ColumnMap` from the choices and writes a run
config that ``python train.py --config FILE`` accepts::

    props = propose(["Run", "Hours", "Glucose (g/L)", "DO [mg/L]", "titer_mg_L"], preset("cho_fedbatch"))
    cmap = build_map({p.column: (p.target, p.unit) for p in props}, "Run", "Hours", "h", process)

The time zone of local timestamps (``time_zone``) is never proposed: a file's wall-clock
times do not say where they were written, so the user picks one of :func:`zone_choices`
(default :data:`NO_ZONE`, the times read as they are).
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from forecaster import schema
from forecaster.data import unit_registry, units
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import DataError
from forecaster.data.io import atomic_write_text
from forecaster.data.process import Process

__all__ = [
    "NO_ZONE",
    "Proposal",
    "build_map",
    "guess_keys",
    "propose",
    "run_config",
    "save_config",
    "split_header",
    "zone_choices",
]

#: words of headers replaced before matching (abbreviations -> the words of variable names)
ALIASES = {"viable cell density": "vcd", "dissolved oxygen": "do", "temp": "temperature", "glc": "glucose",
           "lac": "lactate", "gln": "glutamine", "nh4": "ammonia", "nh3": "ammonia", "titre": "titer",
           "igg": "titer", "sp": "setpoint", "set point": "setpoint", "stir": "agitation",
           "stirrer": "agitation", "air": "airflow", "aeration": "airflow", "dcw": "biomass",
           "cdw": "biomass", "substrate feed": "feed flow", "o2": "o2"}  # fmt: skip
#: unit words in headers that pint reads otherwise
UNIT_WORDS = {"pct": "%", "percent": "%", "C": "degC", "c": "degC", "mM": "mM", "rpm": "rpm"}
TIME_UNITS = {"h": "h", "hr": "h", "hrs": "h", "hours": "h", "hour": "h", "min": "min", "minutes": "min",
              "s": "s", "sec": "s", "d": "d", "day": "d", "days": "d"}  # fmt: skip
BATCH_WORDS = ("batch", "run", "lot", "experiment", "reactor", "bioreactor", "vessel")
TIME_WORDS = (
    "time",
    "hours",
    "hour",
    "elapsed",
    "age",
    "timestamp",
    "date",
    "day",
    "days",
    "duration",
)
#: lowest score of a proposal (0-1)
MIN_SCORE = 0.6
#: the time-zone choice that sets none (timestamps read as they are)
NO_ZONE = "none"


@dataclass(frozen=True)
class Proposal:
    """The proposed meaning of one column.

    Attributes:
        column: the file's column name.
        target: the process variable (or None: not used).
        unit: the unit read from the header (None: the variable's own unit).
        score: 0-1, how well the header matches the variable (name, then unit).
    """

    column: str
    target: str | None
    unit: str | None
    score: float


def _unit(text: str) -> str | None:
    text = UNIT_WORDS.get(text.strip(), text.strip())
    try:
        unit_registry.parse(text)
    except (ValueError, TypeError, AttributeError, KeyError, AssertionError):
        return None
    return text if unit_registry.is_bioprocess_dimension(text) else None


def split_header(header: str) -> tuple[str, str | None]:
    """Name and unit of a header: ``Glucose (g/L)``, ``DO [mg/L]``, ``titer_mg_L``.

    Returns:
        (name, unit text or None when the header names no unit pint reads).
    """
    m = re.match(r"^\s*(.*?)\s*[\(\[]\s*([^\)\]]+?)\s*[\)\]]\s*$", header)
    if m and m.group(1):
        return m.group(1), _unit(m.group(2))
    tokens = [t for t in re.split(r"[_\s]+", header.strip()) if t]
    for k in (3, 2, 1):
        if len(tokens) <= k:
            continue
        tail = tokens[-k:]
        text = tail[0] if k == 1 else "/".join(tail) if k == 2 else f"{tail[0]} {tail[1]}/{tail[2]}"
        unit = _unit(text)
        if unit is not None:
            return " ".join(tokens[:-k]), unit
    return header.strip(), None


def _words(text: str) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
    for short, long in sorted(ALIASES.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"\b{re.escape(short)}\b", long, text)
    return text


def _similar(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    score = difflib.SequenceMatcher(None, a, b).ratio()
    if len(a) >= 3 and (b.startswith(a) or a.startswith(b)):
        score = max(score, 0.8)
    return score


def _fits(variable: str, unit: str | None, process: Process) -> bool:
    if unit is None:
        return True
    try:
        units.find_unit(variable, unit, process)
    except DataError:
        return False
    return True


def propose(headers: Sequence[str], process: Process, skip: Sequence[str] = ()) -> list[Proposal]:
    """For each header the closest process variable whose unit fits, each variable once.

    Args:
        headers: the file's column names.
        process: the process definition (its variables' names and labels are matched).
        skip: headers not to map (the batch-id and time columns).

    Returns:
        One proposal per header, in the file's order (target None: no variable close enough).
    """
    names = {v.name: {_words(split_header(v.name)[0]), _words(v.label)} for v in process.variables}
    scored: list[tuple[float, str, str, str | None]] = []
    for h in headers:
        if h in skip:
            continue
        base, unit = split_header(h)
        words = _words(base)
        for var, forms in names.items():
            if not _fits(var, unit, process):
                continue
            s = max(_similar(words, f) for f in forms)
            if unit is not None:
                s += 0.1  # a parsed unit of the right kind
            scored.append((min(s, 1.0), h, var, unit))
    taken: dict[str, tuple[str, str | None, float]] = {}
    used: set[str] = set()
    for s, h, var, unit in sorted(scored, key=lambda t: -t[0]):
        if s >= MIN_SCORE and h not in taken and var not in used:
            taken[h] = (var, unit, s)
            used.add(var)
    out = []
    for h in headers:
        if h in skip:
            continue
        var, unit, s = taken.get(h, (None, split_header(h)[1], 0.0))
        out.append(Proposal(h, var, unit, round(s, 2)))
    return out


def guess_keys(table: pd.DataFrame) -> tuple[str | None, str | None, str]:
    """The batch-id column, the time column and the time unit of a file (best guesses).

    Returns:
        (batch-id column or None, time column or None, time unit: h, min, s, d or timestamp).
    """
    cols = [str(c) for c in table.columns]

    def pick(words: Sequence[str], exact: str) -> str | None:
        if exact in cols:
            return exact
        for w in words:
            for c in cols:
                if re.search(rf"\b{w}", _words(c)):
                    return c
        return None

    batch = pick(BATCH_WORDS, schema.BATCH_ID)
    time = pick(TIME_WORDS, schema.TIME)
    if time is None:
        return batch, None, "h"
    base, unit = split_header(time)
    for word in [unit or "", *reversed(_words(base).split())]:
        if word in TIME_UNITS:
            return batch, time, TIME_UNITS[word]
    values = table[time].dropna().astype(str).head(20)
    numeric = pd.to_numeric(values, errors="coerce").notna().all()
    return batch, time, "h" if numeric or values.empty else "timestamp"


def zone_choices() -> list[str]:
    """The time-zone choices: :data:`NO_ZONE` first, then every IANA zone name, sorted."""
    return [NO_ZONE, *sorted(zoneinfo.available_timezones())]


def build_map(choices: Mapping[str, tuple[str | None, str | None]], batch_id: str, time: str,
              time_unit: str, process: Process, time_zone: str | None = None) -> ColumnMap:  # fmt: skip
    """A column map from the user's choices.

    Args:
        choices: their column -> (process variable or None, unit text or None).
        batch_id, time: their batch-id and time columns; time_unit: h, min, s, d, timestamp.
        process: the process (units equal to a variable's own are left out of the map).
        time_zone: IANA zone of local timestamps without an offset (None or
            :data:`NO_ZONE`: none set).
    """
    columns, unit_map = {}, {}
    for col, (target, unit) in choices.items():
        if not target:
            continue
        if col != target:
            columns[col] = target
        if unit and unit != process.variable(target).unit:
            unit_map[target] = unit
    zone = None if time_zone in (None, "", NO_ZONE) else time_zone
    return ColumnMap(columns=columns, units=unit_map, batch_id=batch_id, time=time,
                     time_unit=time_unit, time_zone=zone)  # fmt: skip


def run_config(data_path: Path, preset_name: str, cmap: ColumnMap, run_name: str) -> dict:
    """A run config (plain values) that trains on ``data_path`` with this map."""
    return {"run_name": run_name, "data": {"path": str(data_path), "process": {"preset": preset_name},
                                           "column_map": cmap.to_dict()}}  # fmt: skip


def save_config(config: dict, target: Path, overwrite: bool = False) -> Path:
    """Write ``config`` as YAML to ``target`` (atomically).

    Raises:
        DataError: ``target`` exists and ``overwrite`` is False.
    """
    if target.exists() and not overwrite:
        raise DataError(f"{target}: the file exists; tick 'overwrite' to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return target
