"""A training run: everything that writes a run folder.

Lives here: ``config`` (the ``RunConfig`` schema), ``cli`` (``train.py``), ``train``
(``run``: data -> stages -> report -> manifest, built beside the old run and swapped in when
complete), ``context`` (the typed ``RunContext`` the stages share), ``ladder`` and
``ladder_select`` (the forecaster ladder and the chosen forecast), the stages (``data_stage``, ``forecast_stage``, ``model_eval``,
``anomaly_stage``, ``explain_stage``), evaluation against the run's bars (``evaluate``,
``anomaly_eval``), reports and saved figures (``report``, ``anomaly_report``,
``explain_report``, ``figures``).

May import: the libraries (``sim``, ``data``, ``models``, ``anomaly``, ``explain``) and the
core modules (every Lightning fit goes through ``forecaster.trainer.make_trainer``). Never
imports ``serve``.
"""
