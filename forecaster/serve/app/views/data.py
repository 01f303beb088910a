"""Data page: upload a batch table or pick one on disk; preview it and validate it for the run."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from forecaster.serve.app import mapping_panel, state, widgets
from forecaster.serve.outputs import problem_line

cfg = state.settings()
st.title("Data")
st.write(f"A batch table (CSV or Parquet, one row per batch per time step) from `{cfg.data_dir}`, "
         "or uploaded. It is read through the chosen run's column map, so your own column names "
         "and units work.")  # fmt: skip

pick, upload = st.tabs(["Pick a file on disk", "Upload a file"])
with pick:
    files = state.list_data_files(cfg.data_dir)
    if files:
        current = state.data_path()
        rel = [f for f in files if current is not None and cfg.data_dir / f == current]
        choice = st.selectbox(f"Files in `{cfg.data_dir}`", files,
                              index=files.index(rel[0]) if rel else None, placeholder="choose a file")  # fmt: skip
        if choice and (current is None or cfg.data_dir / choice != current):
            st.session_state["data_path"] = str(cfg.data_dir / choice)
            st.rerun()
    else:
        st.caption(f"No CSV or Parquet file in `{cfg.data_dir}`.")
with upload:
    up = st.file_uploader("CSV or Parquet file", type=["csv", "tsv", "txt", "parquet", "pq"])
    if up is not None:
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(up.name).name).strip("._") or "upload.csv"
        target = cfg.uploads / name
        data = up.getvalue()
        if not target.exists() or target.read_bytes() != data:
            cfg.uploads.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if state.data_path() != target:
            st.session_state["data_path"] = str(target)
            st.rerun()
        st.caption(f"Saved as `{target}`.")

path = state.data_path()
if path is None:
    st.info("No data chosen yet.")
    st.stop()
st.subheader(f"`{path.name}`")
try:
    key = state.file_key(path)
    head = state.preview(key)
except widgets.USER_ERRORS as err:
    widgets.show_error(err)
    st.stop()
st.caption(
    f"Preview: the first {len(head)} rows as they are in the file ({head.shape[1]} columns)."
)
st.dataframe(head, height=260)

with st.expander("Column map assistant: map this file's columns and save a run config",
                 expanded=state.list_runs(cfg.runs) == [] or "cm_preset" in st.session_state):  # fmt: skip
    mapping_panel.assistant(path, head)

run = widgets.run_or_stop()
try:
    report = state.validated(run, path)
except widgets.USER_ERRORS as err:
    widgets.show_error(err)
    st.stop()
n_ok = report.table["batch_id"].nunique() if len(report.table) else 0
if n_ok:
    st.success(f"Validated for run `{run.run_dir.name}`: {n_ok} batches ready "
               f"({len(report.table)} rows), {len(report.problems)} skipped.")  # fmt: skip
else:
    st.error(f"error: no batch of `{path.name}` can be used ({len(report.problems)} skipped).")
if report.problems:
    st.markdown("**Skipped batches** (each with the one-line message of the command line):")
    for p in report.problems[:50]:
        st.markdown(f"- `{problem_line(p)}`")
    if len(report.problems) > 50:
        st.caption(f"... and {len(report.problems) - 50} more.")
