"""Compare page: batches overlaid on one aligned axis against a golden-batch envelope."""

from __future__ import annotations

import streamlit as st

from forecaster import schema
from forecaster.serve import envelope as golden
from forecaster.serve.app import charts, state, widgets

st.title("Compare")
run = widgets.run_or_stop()
path = state.data_path()
if path is None:
    st.info("No data chosen yet: pick or upload a batch table on the **Data** page.")
    st.stop()
try:
    table = state.validated(run, path).table
except widgets.USER_ERRORS as err:
    widgets.show_error(err)
    st.stop()
if table.empty:
    st.warning("No usable batch in this file (see the Data page).")
    st.stop()
ids = list(dict.fromkeys(table[schema.BATCH_ID].astype(str)))
variables = [v for v in schema.VARIABLE_NAMES if v in table.columns and table[v].notna().any()]

c = st.columns([2, 2, 1])
var = c[0].selectbox("Variable", variables, format_func=charts.label, key="cmp_var",
                     index=variables.index("glucose_g_L") if "glucose_g_L" in variables else 0)  # fmt: skip
align = c[1].selectbox("Align on", list(golden.ALIGN), key="cmp_align",
                       format_func=lambda a: golden.ALIGN[a][1])  # fmt: skip
k = c[2].number_input("k (sd)", 0.5, 10.0, 3.0, 0.5, key="cmp_k")
good = st.multiselect("Good batches (the golden envelope is built from these)", ids,
                      default=ids[: max(2, min(5, len(ids) - 1))], key="cmp_good")  # fmt: skip
chosen = st.multiselect("Batches to compare", ids,
                        default=[b for b in ids if b not in good][:3], key="cmp_batches")  # fmt: skip

env = None
if len(good) >= 2:
    try:
        env = golden.envelope(table, good, var, align=align, k=float(k))
    except widgets.USER_ERRORS as err:
        widgets.show_error(err)
else:
    st.info("Mark at least two batches as good to build the envelope.")
groups = {str(b): g for b, g in table.groupby(schema.BATCH_ID, sort=False)}
curves = {}
try:
    for b in chosen:
        g = groups[b].sort_values(schema.TIME, kind="stable")
        x = golden.aligned(g, align)
        y = g[var].to_numpy(dtype=float)
        ok = ~(y != y)
        curves[b] = (x[ok], y[ok])
except widgets.USER_ERRORS as err:
    widgets.show_error(err)
st.plotly_chart(
    charts.compare_figure(curves, env, var, golden.ALIGN[align][1], float(k)), key="cmp_chart"
)

if env is not None and chosen:
    exc = golden.excursions(table, env, chosen, var, align=align)
    st.subheader("Where each batch leaves the envelope")
    if exc.empty:
        st.success("Every compared batch stays inside the envelope where it is defined.")
    else:
        x_name = golden.ALIGN[align][1]
        st.dataframe(exc.drop(columns=["variable"]), hide_index=True, column_config={
            "start_x": st.column_config.NumberColumn(f"from ({x_name})", format="%.3g"),
            "end_x": st.column_config.NumberColumn(f"to ({x_name})", format="%.3g"),
            "start_h": st.column_config.NumberColumn("from (h)", format="%.1f"),
            "end_h": st.column_config.NumberColumn("to (h)", format="%.1f"),
            "max_sd": st.column_config.NumberColumn("largest distance (sd)", format="%.1f"),
        })  # fmt: skip
