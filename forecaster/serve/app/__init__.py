"""The web app (``forecaster app``): Streamlit pages over run folders and batch tables.

Start it with ``forecaster app [--runs checkpoints] [--data data] [--port 8501]`` or
``streamlit run forecaster/serve/app/main.py -- --runs checkpoints``. It serves on 127.0.0.1
and reads and writes only inside the folders it is given (see :mod:`.settings`).

Module map (Streamlit code only in ``main.py``, ``widgets.py``, ``state.py``,
``mapping_panel.py`` and ``views/``; the rest are plain functions with unit tests):

- ``settings``: the folders and defaults the app was started with.
- ``jobs``: a training command in a subprocess, its output lines and progress.
- ``tables``: metrics.json and predictions as tables (report, batch summary, paging).
- ``charts``: plotly figures (one batch, metric charts, compare overlay with the envelope).
- ``mapping``: the column-map assistant's proposals (headers -> variables and units), the
  map and the run config it saves; ``mapping_panel``: its part of the Data page.
- ``optimize_files``, ``optimize_charts``: ``forecaster optimize`` outputs read back and drawn.
- ``state``: cached loading of run folders, tables and predictions, keyed on their files.
- ``widgets``: the error line, the training-job panel, shared pickers.
- ``views/``: one file per page (not ``pages/``: Streamlit would run those files on their own).

Imports: anything in ``forecaster`` (this is the top of the serving layer); nothing imports
this package except ``forecaster.__main__``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MAIN"]

#: The Streamlit entry script (``streamlit run`` takes a file path).
MAIN = Path(__file__).with_name("main.py")
