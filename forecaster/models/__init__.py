"""Forecasting models: pure ``torch.nn`` networks, thin LightningModules, baselines.

Lives here: ``nets`` (``ForecastNet``), ``forecast`` (``ForecastModule``, ``ForecastConfig``),
``sequence`` (``SequenceForecaster``: preprocessing + net + decoding, ``state_dict``),
``baseline``/``tabular_features``/``rf_store`` (the RandomForest rung),
``autoencoder_net``/``autoencoder`` (the anomaly autoencoder's network and module).

May import: ``forecaster.schema``, ``forecaster.state``, ``forecaster.data``. Never imports
``pipeline`` or ``serve``, never sees a run context or a run-folder layout.
"""
