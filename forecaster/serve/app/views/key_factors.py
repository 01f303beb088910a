"""Key factors page: the outputs of ``forecaster optimize`` (importances, recipe, feed plans)."""

from __future__ import annotations

import streamlit as st

from forecaster.serve.app import widgets
from forecaster.serve.app.optimize_charts import feed_plan_figure, importance_figure, titer_figure
from forecaster.serve.app.optimize_files import (
    METHOD_LABELS,
    find_outputs,
    load_outputs,
    titer_rows,
)
from forecaster.serve.app.state import settings

cfg = settings()
st.title("Key factors and optimisation")
st.write("Which factors drive the harvest titer across your batches, the recipe recommended for "
         "the next batch, and feed plans for the running ones: the outputs of "
         "`forecaster optimize --input FILE --out DIR` (see docs/optimize.md).")  # fmt: skip

folders = [*find_outputs(cfg.results), *find_outputs(cfg.runs)]
if not folders:
    st.info(f"No output of `forecaster optimize` in `{cfg.results}` or `{cfg.runs}` yet. Make one with "
            f"`forecaster optimize --run {cfg.runs}/NAME --input batches.csv --out {cfg.results}/optimize`.")  # fmt: skip
    st.stop()
shown = [str(p) for p in folders]
choice = st.selectbox("Output folder", shown, key="kf_folder")
try:
    out = load_outputs(folders[shown.index(choice)])
except widgets.USER_ERRORS as err:
    widgets.show_error(err)
    st.stop()

s = out.summary
product, unit = str(s["product"]), str(s["product_unit"])
r2 = s.get("model_r2_loo")
c = st.columns(4)
c[0].metric("finished batches", s["n_batches"])
c[1].metric("running batches", s.get("n_running", 0))
c[2].metric(
    "batch model R² (leave-one-out)", f"{r2:.2f}" if isinstance(r2, (int, float)) else "n/a"
)
c[3].metric("factors ranked", out.key_factors["factor"].nunique())
if isinstance(r2, (int, float)) and r2 < 0.1:
    st.warning(f"The factors explain little of the {product} spread (R² {r2:.2f}): the ranking beyond the "
               "first few factors and the recommended recipe are weak evidence. Test the direction; "
               "do not bank the predicted gain.")  # fmt: skip

st.subheader(f"What drives harvest {product}")
st.caption(f"Importance of each factor by {' and '.join(METHOD_LABELS.get(m, m) for m in s['methods'])}, "
           "with its 90 % bootstrap interval; dotted: no effect. "
           "A bar whose interval crosses the dotted line cannot be told from no effect.")  # fmt: skip
st.plotly_chart(importance_figure(out.key_factors))
with st.expander("Importance table"):
    st.dataframe(out.key_factors, hide_index=True)
if s.get("dropped_factors"):
    st.caption("Dropped (one value in every batch): " + ", ".join(map(str, s["dropped_factors"])))

st.subheader("Recommended recipe")
rows = titer_rows(s)
left, right = st.columns([3, 2])
left.dataframe(out.recipe.drop(columns=["factor"]), hide_index=True,
               column_config={k: st.column_config.NumberColumn(format="%.4g")
                              for k in ("current", "recommended", "lower_bound", "upper_bound")})  # fmt: skip
right.plotly_chart(titer_figure(rows, product, unit))
cur, rec = rows["mean"].iloc[0], rows["mean"].iloc[1]
if cur is not None and rec is not None:
    st.markdown(f"Predicted harvest {product}: **{cur:.4g} {unit}** with the current recipe, "
                f"**{rec:.4g} {unit}** with the recommended one ({rows['gain_pct'].iloc[1]:+.0f} %; "
                f"80 % interval {rows['lo80'].iloc[1]:.4g} to {rows['hi80'].iloc[1]:.4g}).")  # fmt: skip

st.subheader("Feed plans of the running batches")
if out.feed_plans is None or out.feed_plans.empty:
    st.caption(f"No feed plan in this folder ({s.get('feed_plans') or 'no running batch'}).")
    st.stop()
plans = out.feed_plans
batches = [str(b) for b in dict.fromkeys(plans["batch_id"].astype(str))]
batch = st.selectbox("Running batch", batches, key="kf_batch")
plan = plans[plans["batch_id"].astype(str) == batch].sort_values("time_h")
st.plotly_chart(feed_plan_figure(plan, out.feed_column, unit))
st.dataframe(plan, hide_index=True)
