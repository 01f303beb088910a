"""The Data page's column-map assistant (Streamlit): propose, correct, validate, save.

The proposals come from :mod:`.mapping`; the file is validated with the reader training
uses (:func:`forecaster.data.io.load_table`, strict, every problem at once) and the run
config is written into the app's configs folder. Timestamps written as local wall-clock
time take a time zone the user picks (never guessed; "none" by default), saved as
``data.column_map.time_zone``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import streamlit as st

from forecaster.cli import error_line
from forecaster.data.errors import DataError
from forecaster.data.process import PRESETS, preset
from forecaster.serve.app import state
from forecaster.serve.app.mapping import (
    NO_ZONE,
    build_map,
    guess_keys,
    propose,
    run_config,
    save_config,
    zone_choices,
)

__all__ = ["assistant"]

NOT_USED = "(not used)"
TIME_UNITS = ["h", "min", "s", "d", "timestamp"]


@st.cache_resource(max_entries=4, show_spinner="Validating with the map ...")
def _validate(
    key: tuple[str, int, int], preset_name: str, cmap_json: str
) -> tuple[int, int, list[str]]:
    """(batches, rows, problems) of the file read as training reads it (no problem: [])."""
    from forecaster.data.column_map import ColumnMap
    from forecaster.data.io import load_table

    process = preset(preset_name)
    try:
        cmap = ColumnMap.from_dict(json.loads(cmap_json), process)
        table = load_table(Path(key[0]), cmap, min_rows=2, strict=True, process=process).table
    except DataError as err:
        lines = err.lines() if callable(getattr(err, "lines", None)) else [error_line(err)]
        return 0, 0, [" ".join(line.split()) for line in lines]
    return int(table["batch_id"].nunique()), len(table), []


def assistant(path: Path, head: pd.DataFrame) -> None:
    """Propose a column map for ``path`` (its first rows ``head``), let the user correct it,
    validate the file with it and save a run config."""
    st.subheader("Column map assistant")
    st.caption("For training on this file: the process variable each column holds and its unit "
               "(proposed from the headers; correct any), checked with the reader training uses.")  # fmt: skip
    cols = [str(c) for c in head.columns]
    if not cols:
        st.error(f"error: `{path.name}` has no columns")
        return
    b0, t0, u0 = guess_keys(head)
    c = st.columns(4)
    name = c[0].selectbox("Process", list(PRESETS), key="cm_preset")
    process = preset(name)
    tag = f"cm_{abs(hash((str(path), name))) % 10**8}"
    batch = c[1].selectbox(
        "Batch-id column", cols, index=cols.index(b0) if b0 in cols else 0, key=f"{tag}_batch"
    )
    time = c[2].selectbox("Time column", cols, index=cols.index(t0) if t0 in cols else min(1, len(cols) - 1),
                          key=f"{tag}_time")  # fmt: skip
    tunit = c[3].selectbox("Time unit", TIME_UNITS, index=TIME_UNITS.index(u0), key=f"{tag}_tunit")
    zone = _zone(tunit, tag, st.columns(2)[1])  # under the time column and its unit
    options = [NOT_USED, *process.names]
    labels = {v.name: f"{v.name} ({v.label}, {v.unit})" for v in process.variables}
    choices: dict[str, tuple[str | None, str | None]] = {}
    h = st.columns([3, 4, 2, 1])
    for col, text in zip(
        h, ("**column in the file**", "**process variable**", "**unit in the file**", "**match**")
    ):
        col.markdown(text)
    for i, p in enumerate(propose(cols, process, skip=[batch, time])):
        r = st.columns([3, 4, 2, 1])
        r[0].markdown(f"`{p.column}`")
        var = r[1].selectbox(p.column, options, index=options.index(p.target) if p.target else 0,
                             format_func=lambda v: labels.get(v, v), key=f"{tag}_var{i}",
                             label_visibility="collapsed")  # fmt: skip
        unit = r[2].text_input(f"unit of {p.column}", p.unit or "", key=f"{tag}_unit{i}",
                               placeholder="variable's unit", label_visibility="collapsed")  # fmt: skip
        r[3].caption(f"{100 * p.score:.0f} %" if p.target else "-")
        choices[p.column] = (None if var == NOT_USED else var, unit.strip() or None)
    targets = [t for t, _ in choices.values() if t]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        st.error(
            f"error: bad mapping: {', '.join(twice)} chosen for more than one column; choose each variable once"
        )
        return
    cmap = build_map(choices, batch, time, tunit, process, time_zone=zone)
    n_batches, n_rows, problems = _validate(state.file_key(path), name, json.dumps(cmap.to_dict()))
    if problems:
        st.error(f"error: `{path.name}` with this map: {len(problems)} problem(s); every one:")
        st.markdown("\n".join(f"- `{line}`" for line in problems[:100]))
        return
    st.success(
        f"`{path.name}` reads with this map: {n_batches} batches, {n_rows} rows, no problem."
    )
    _save_section(path, name, cmap)


def _zone(time_unit: str, tag: str, where) -> str | None:
    """The time zone of local timestamps the user picks in the container ``where`` ("none"
    first; used only when the time column holds timestamps)."""
    zones = zone_choices()
    zone = where.selectbox(
        "Time zone of the timestamps", zones, index=0, key=f"{tag}_zone",
        disabled=time_unit != "timestamp",
        help="Local wall-clock times without an offset: the zone they were written in, so the "
        "hour repeated when clocks go back and the hour skipped in spring are read right. "
        f"'{NO_ZONE}': the times are read as they are (UTC, or their own offset).",
    )  # fmt: skip
    return zone if time_unit == "timestamp" and zone != NO_ZONE else None


def _save_section(path: Path, preset_name: str, cmap) -> None:
    folder = state.settings().configs
    default = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_") or "my_run"
    c = st.columns([2, 1])
    run_name = re.sub(
        r"[^A-Za-z0-9_-]+", "_", c[0].text_input("Run name", default, key="cm_run")
    ).strip("_")
    target = folder / f"{run_name or default}.yaml"
    overwrite = target.exists() and c[1].checkbox(f"overwrite `{target.name}`", key="cm_overwrite")
    if target.exists() and not overwrite:
        st.caption(f"`{target}` exists: tick overwrite, or choose another run name.")
    config = run_config(path, preset_name, cmap, run_name or default)
    if st.button(
        f"Save run config `{target}`", key="cm_save", disabled=target.exists() and not overwrite
    ):
        try:
            save_config(config, target, overwrite=overwrite)
        except (DataError, OSError) as err:
            st.error(f"error: {error_line(err)}")
        else:
            st.success(
                f"Saved `{target}`: train with `python train.py --config {target}` (or the Train page)."
            )
