"""Batches page: one row per batch of the chosen data, filtered, sorted and paged."""

from __future__ import annotations

import streamlit as st

from forecaster.serve.app import state, tables, widgets

st.title("Batches")
run, res = widgets.predictions_or_stop()
summary = tables.batch_summary(res)
n_run = int((summary["status"] == "running").sum())
st.write(f"{len(summary)} batches of `{state.data_path().name}` predicted with run "
         f"`{run.run_dir.name}`: {n_run} running, {len(summary) - n_run} finished, "
         f"{int((summary['open_alarms'] > 0).sum())} with open alarms; {len(res.problems)} skipped.")  # fmt: skip

c = st.columns([2, 2, 1, 2, 1])
text = c[0].text_input("Batch id contains", key="batches_text")
status = c[1].multiselect("Status", list(tables.STATUS), key="batches_status")
alarms = c[2].checkbox("Open alarms only", key="batches_alarms")
sort_by = c[3].selectbox("Sort by", list(summary.columns[:-1]), key="batches_sort")
desc = c[4].checkbox("Descending", key="batches_desc")
shown = tables.filter_batches(summary, text, status, alarms, sort_by, desc)

c = st.columns([1, 1, 4])
size = c[0].selectbox("Rows per page", [25, 50, 100, 250], index=1, key="batches_size")
n_pages = max(1, -(-len(shown) // size))
page = c[1].number_input(f"Page (of {n_pages})", 1, n_pages, 1, key="batches_page")
rows, n_pages = tables.page_of(shown, int(page), size)
st.caption(f"Showing {len(rows)} of {len(shown)} matching batches (page {int(page)} of {n_pages}). "
           "Select a row to open the batch.")  # fmt: skip
event = st.dataframe(
    rows, hide_index=True, on_select="rerun", selection_mode="single-row", key="batches_table",
    column_config={
        "batch_id": "batch",
        "day": st.column_config.NumberColumn("day", format="%.1f", help="culture day of the last row"),
        "harvest_titer_mg_L": st.column_config.NumberColumn("harvest titer (mg/L)", format="%.0f"),
        "p10_mg_L": st.column_config.NumberColumn("p10 (mg/L)", format="%.0f"),
        "p90_mg_L": st.column_config.NumberColumn("p90 (mg/L)", format="%.0f"),
        "forecast_by": st.column_config.TextColumn(
            "forecast by", help="the forecast served: the training's choice for this origin day"),
        "feed_next_mL_h": st.column_config.NumberColumn("next feed (mL/h)", format="%.2f"),
        "open_alarms": st.column_config.NumberColumn("open alarms"),
        "alarms": st.column_config.NumberColumn("alarms (all)"),
        "top_variables": None,
    },
)  # fmt: skip
picked = event.selection.rows if event is not None and hasattr(event, "selection") else []
if picked:
    st.session_state["batch"] = str(rows.iloc[picked[0]]["batch_id"])
    st.switch_page("views/batch.py")
