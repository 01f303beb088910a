"""A tiny run folder (the same as the predict tests') and data files for the app tests.

``app`` builds an ``AppTest`` of the app with its folders set, on any page::

    at = app("views/batches.py")   # runs the entry script, then that page
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit", reason="the app tests need the app extra: pip install -e '.[app]'")
pytest.importorskip("plotly", reason="the app tests need the app extra: pip install -e '.[app]'")

from forecaster.serve.app import MAIN  # noqa: E402
from forecaster.serve.app.settings import AppSettings  # noqa: E402
from tests.predict.conftest import half_finished  # noqa: E402


@pytest.fixture(autouse=True)
def _main_module_put_back():
    """Streamlit's ``AppTest`` leaves the app page as ``sys.modules["__main__"]``; later
    tests that start processes with ``spawn`` would run that page again in the child."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


#: the batch cut short (still running) in the app's data
RUNNING = "B0001"
#: seconds an AppTest run may take (the first one imports torch and loads the run)
TIMEOUT = 120


@pytest.fixture(scope="session")
def app_dirs(tmp_path_factory, run_dir, new_table) -> AppSettings:
    """Settings of an app over the tiny run, with good, broken and empty data files."""
    data = tmp_path_factory.mktemp("app_data")
    half_finished(new_table, RUNNING, 100.0).to_csv(data / "new.csv", index=False)
    new_table.drop(columns=["time_h"]).to_csv(data / "broken.csv", index=False)
    pd.DataFrame(columns=new_table.columns).to_csv(data / "empty.csv", index=False)
    return AppSettings(runs=run_dir.parent, data=data / "new.csv", configs=Path("configs"))


@pytest.fixture
def app(app_dirs):
    """Factory: an AppTest on ``page`` (relative to the entry script) after one run."""
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, settings: AppSettings | None = None, **state):
        at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)
        at.session_state["app_settings"] = settings or app_dirs
        for k, v in state.items():
            at.session_state[k] = v
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return make


def texts(at) -> str:
    """Every text an AppTest shows (markdown, titles, captions, alerts, metrics), joined."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success",
                 "warning", "error", "code"):  # fmt: skip
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)
