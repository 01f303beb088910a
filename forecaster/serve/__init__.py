"""Using a run: everything that reads a run folder.

Lives here: ``run_folder`` (``load_run``: verify the manifest, load every part),
``predict`` (``predict_table`` and ``python -m forecaster.predict``), ``outputs`` (CSV,
report and dashboards written atomically), ``dashboard`` (one figure per batch),
``monitor`` (``Monitor``: a running batch, update by update). The web app will live here.

May import: the libraries and the core modules; it reads run folders, it never trains, so it
does not import ``pipeline``. Nothing imports ``serve``.
"""
