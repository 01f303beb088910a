"""Batch page: the charts of one batch, its forecasts and its alarms with their reasons."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from forecaster import schema
from forecaster.serve.app import charts, widgets

st.title("Batch")
run, res = widgets.predictions_or_stop()
ids = list(res.predictions[schema.BATCH_ID].astype(str))
asked = st.query_params.get("batch") or st.session_state.get("batch")
if st.session_state.get("batch_pick") not in ids:
    st.session_state["batch_pick"] = asked if asked in ids else ids[0]
bid = st.selectbox("Batch", ids, key="batch_pick")
st.session_state["batch"] = bid

pred = res.predictions[res.predictions[schema.BATCH_ID].astype(str) == bid].iloc[0].to_dict()
traj = res.trajectories[res.trajectories[schema.BATCH_ID].astype(str) == bid]
events = list(res.events.get(bid, []))
c = st.columns(4)
c[0].metric("culture day", f"{pred['last_time_h'] / 24:.1f}")
c[1].metric("harvest titer forecast", f"{pred['harvest_titer_mg_L']:.0f} mg/L",
            help="median forecast; 80 % interval beside it")  # fmt: skip
c[2].metric("80 % interval",
            f"{pred['harvest_titer_p10_mg_L']:.0f}–{pred['harvest_titer_p90_mg_L']:.0f} mg/L")  # fmt: skip
c[3].metric("next feed", f"{pred['feed_next_mL_h']:.3g} mL/h", help="recommended feed rate")

fig = charts.batch_figure(res.batches[bid], res.steps[bid], traj, pred, events)
st.plotly_chart(fig, key="batch_chart")

st.subheader(f"Alarms ({len(events)})")
if not events:
    st.write("No alarm on this batch.")
else:
    table = pd.DataFrame([{
        "#": k, "detector": e.detector + (f"/{e.rule}" if e.rule else ""),
        "from day": e.start_h / 24, "to day": e.end_h / 24, "open": bool(e.open),
        "top variables": ", ".join(f"{charts.label(v)} {s:.0%}" for v, s in e.top_variables[:3]),
        "reason": e.reason,
    } for k, e in enumerate(events, start=1)])  # fmt: skip
    st.dataframe(table, hide_index=True, column_config={
        "from day": st.column_config.NumberColumn(format="%.2f"),
        "to day": st.column_config.NumberColumn(format="%.2f"),
        "reason": st.column_config.TextColumn(width="large"),
    })  # fmt: skip
    st.caption("Shaded windows on the charts carry the alarm's number; red: autoencoder, "
               "orange: rules, purple: PCA.")  # fmt: skip
