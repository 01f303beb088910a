"""Forecasting models: pure ``torch.nn`` networks, thin LightningModules, baselines.

Lives here: ``nets`` (``ForecastNet``), ``forecast`` (``ForecastModule``, ``ForecastConfig``),
``sequence`` (``SequenceForecaster``: preprocessing + net + decoding, ``state_dict``),
``decode`` (the one decode step: unscale, clip, pick quantiles), ``inputs`` (the checks of a
batch's rows before prediction),
``baseline``/``tabular_features``/``rf_store`` (the RandomForest rung, stored as arrays),
``autoencoder_net``/``autoencoder`` (the anomaly autoencoder's network and module).

May import: ``forecaster.schema``, ``forecaster.state``, ``forecaster.data``. Never imports
``pipeline`` or ``serve``, never sees a run context or a run-folder layout.
"""
