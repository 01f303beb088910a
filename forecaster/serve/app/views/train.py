"""Train page: the chosen run's report (metrics as tables and charts) and starting a run."""

from __future__ import annotations

import json
import re

import streamlit as st

from forecaster.serve.app import charts, state, tables, widgets
from forecaster.serve.app.settings import DEMO_CONFIG

cfg = state.settings()
st.title("Train")
runs = state.list_runs(cfg.runs)


def start_section() -> None:
    configs = (
        sorted(str(p.relative_to(cfg.configs)) for p in cfg.configs.glob("**/*.yaml"))
        if cfg.configs.is_dir()
        else []
    )
    if not configs:
        st.caption(f"No config file in `{cfg.configs}`.")
        return
    c1, c2 = st.columns([2, 1])
    choice = c1.selectbox(f"Config file (in `{cfg.configs}`)", configs,
                          index=configs.index(DEMO_CONFIG) if DEMO_CONFIG in configs else 0)  # fmt: skip
    name = c2.text_input("Run name (empty: the config's)", "")
    widgets.job_panel(
        cfg.configs / choice, run_name=name.strip(), label="Start training", key="train"
    )


if not runs:
    st.subheader("No trained run yet")
    st.write(f"There is no run folder in `{cfg.runs}`. Make a demo run (the quick-start config: "
             "simulated batches, every model; a few minutes on a laptop), or pick a config below.")  # fmt: skip
    widgets.job_panel(cfg.configs / DEMO_CONFIG, label="Make a demo run", key="demo")
    st.divider()
    st.subheader("Start a training run")
    start_section()
    st.stop()

run_dir = state.run_dir()
st.write(f"Run folder `{run_dir}`. Choose another in the sidebar.")
try:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
except (OSError, ValueError) as err:
    widgets.show_error(err)
    st.stop()

data = metrics.get("data") or {}
c = st.columns(4)
c[0].metric("train / val / test batches",
            f"{data.get('n_train_batches', '?')} / {data.get('n_val_batches', '?')} / {data.get('n_test_batches', '?')}")  # fmt: skip
titer = metrics.get("titer") or {}
cov = (titer.get("sequence") or {}).get("pi80_coverage")
c[1].metric(
    "80 % interval coverage", f"{cov:.2f}" if cov is not None else "n/a", help="nominal 0.80"
)
floor = titer.get("noise_floor_mape")
c[2].metric("assay-noise floor (MAPE)", f"{100 * floor:.1f} %" if floor is not None else "n/a")
secs = (metrics.get("timing") or {}).get("train_s")
c[3].metric("training time", f"{secs:.0f} s" if secs is not None else "n/a")
if data.get("warning"):
    st.warning(data["warning"])

st.subheader("Feed-rate forecast")
st.dataframe(tables.feed_table(metrics), hide_index=True)

st.subheader("Harvest titer: MAPE (%) by the day the forecast was made")
mape = tables.mape_table(metrics)
st.dataframe(mape, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.1f")
                                                   for c in mape.columns[1:]})  # fmt: skip
if len(mape.columns) > 1:
    st.plotly_chart(charts.mape_chart(mape, floor))
faulty = tables.mape_table(metrics.get("faulty_batches") or {})
if not faulty.empty:
    with st.expander("The same on the faulty test batches"):
        st.dataframe(faulty, hide_index=True)

chosen = tables.chosen_table(metrics)
if not chosen.empty:
    st.markdown("**The model ladder's choice by origin day** (against the naive baselines above):")
    st.dataframe(chosen, hide_index=True)

st.subheader("80 % interval coverage")
st.dataframe(tables.coverage_table(metrics), hide_index=True)
for level in ("80", "90", "95"):
    iv = tables.interval_table(metrics, level)
    if not iv.empty:
        st.markdown(f"**Conformal {level} % intervals**: coverage (nominal {int(level) / 100:.2f}) "
                    "and width (% of the harvest titer) by origin day")  # fmt: skip
        st.dataframe(iv, hide_index=True)

st.subheader("Anomaly detection")
an = tables.anomaly_table(metrics)
if an.empty:
    st.caption("This run was trained without anomaly detection.")
else:
    st.dataframe(an, hide_index=True)
    st.plotly_chart(charts.anomaly_chart(an))

report = run_dir / "report.md"
if report.is_file():
    with st.expander("report.md (the run's full report)"):
        text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", report.read_text(encoding="utf-8"))
        st.markdown(text[:60_000])  # pictures left out: their paths are relative to the run

st.divider()
st.subheader("Start a training run")
start_section()
