"""Forecasting models: pure ``torch.nn`` networks, thin LightningModules, baselines.

Lives here: ``nets`` (``ForecastNet``), ``forecast`` (``ForecastModule``, ``ForecastConfig``),
``sequence`` (``SequenceForecaster``: preprocessing + net + decoding, ``state_dict``),
``decode`` (the one decode step: unscale, clip, pick quantiles), ``inputs`` (the checks of a
batch's rows before prediction),
``baseline``/``tabular_features``/``rf_store`` (the RandomForest rung, stored as arrays),
``autoencoder_net``/``autoencoder`` (the anomaly autoencoder's network and module),
``pretrain`` (transfer from the simulator: simulated batches rendered like the user's,
pre-training, fine-tuning), ``ladder`` (the harvest forecasters behind one interface and
``chosen``, the choice per origin day that is served).

May import: ``forecaster.schema``, ``forecaster.state``, ``forecaster.data``,
``forecaster.sim`` (``pretrain`` only, lazily). Never imports
``pipeline`` or ``serve``, never sees a run context or a run-folder layout.
"""
