"""Entry script of the web app: settings, the sidebar (run and data) and the pages.

``streamlit run forecaster/serve/app/main.py -- --runs checkpoints --data data`` (or
``forecaster app``, which adds 127.0.0.1 and headless mode).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from forecaster.serve.app import state, widgets
from forecaster.serve.app.settings import DEMO_CONFIG, AppSettings

HERE = Path(__file__).parent

st.set_page_config(
    page_title="Bioreactor forecaster", page_icon=":material/science:", layout="wide"
)
if "app_settings" not in st.session_state:
    # the app's own arguments only when streamlit runs this file (not inside a test runner)
    ours = Path(sys.argv[0]).resolve() == Path(__file__).resolve() if sys.argv else False
    st.session_state["app_settings"] = (
        AppSettings.from_argv(sys.argv[1:]) if ours else AppSettings()
    )
cfg = state.settings()
if "data_path" not in st.session_state and cfg.data_file is not None and cfg.data_file.is_file():
    st.session_state["data_path"] = str(cfg.data_file)

pages = [
    st.Page(HERE / "views" / "data.py", title="Data", icon=":material/table:", default=True),
    st.Page(HERE / "views" / "train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(HERE / "views" / "batches.py", title="Batches", icon=":material/view_list:", url_path="batches"),
    st.Page(HERE / "views" / "batch.py", title="Batch", icon=":material/monitoring:", url_path="batch"),
    st.Page(HERE / "views" / "compare.py", title="Compare", icon=":material/stacked_line_chart:",
            url_path="compare"),
    st.Page(HERE / "views" / "key_factors.py", title="Key factors", icon=":material/tune:",
            url_path="key_factors"),
]  # fmt: skip
page = st.navigation(pages)

runs = state.list_runs(cfg.runs)
with st.sidebar:
    st.markdown("### Bioreactor forecaster")
    if runs:
        if st.session_state.get("run_name") not in runs:
            st.session_state["run_name"] = cfg.run if cfg.run in runs else runs[0]
        st.selectbox(f"Run folder (in `{cfg.runs}`)", runs, key="run_name")
    else:
        st.session_state.pop("run_name", None)
        st.warning(f"No run folder in `{cfg.runs}` yet.")
    data = state.data_path()
    st.caption(f"Data: `{data.name}`" if data else "Data: none chosen (Data page)")

if not runs and page.title != "Train":  # the Train page offers it itself
    st.subheader("No trained run yet")
    st.write(f"There is no run folder in `{cfg.runs}`. Make a demo run: it simulates batches and "
             "trains every model with the quick-start config (a few minutes on a laptop).")  # fmt: skip
    widgets.job_panel(cfg.configs / DEMO_CONFIG, label="Make a demo run", key="demo")
    st.divider()
try:
    page.run()
except widgets.USER_ERRORS as err:  # a page that missed one: still one line
    widgets.show_error(err)
except Exception as err:  # noqa: BLE001 - a page never shows a traceback
    widgets.show_unexpected(err, page.title)
