"""Anomaly detection: autoencoder scores, calibrated thresholds, rules, PCA monitor, metrics.

Entry points: :func:`forecaster.pipeline.anomaly_stage.run_anomaly_stage` (training run) and
:class:`forecaster.anomaly.detector.AnomalyDetector` (predict / monitor).
"""
