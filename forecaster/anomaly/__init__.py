"""Anomaly detection: scorers -> detector -> events, beside rules, with calibrated thresholds.

Roles (each in its own module):

- scorers (:mod:`~forecaster.anomaly.scorer` protocol, :mod:`~forecaster.anomaly.registry`):
  the autoencoder (:class:`~forecaster.anomaly.scores.AEScorer`), the PCA monitor
  (:class:`~forecaster.anomaly.pca.PCAScorer`) and any registered one; the autoencoder's
  error scale after a set-point step (:mod:`~forecaster.anomaly.step_scale`);
- calibration: :mod:`~forecaster.anomaly.threshold`, out of fold with few training batches
  (:mod:`~forecaster.anomaly.oof`);
- rules: :mod:`~forecaster.anomaly.rules`, :mod:`~forecaster.anomaly.consistency` (its
  alarms and reasons in :mod:`~forecaster.anomaly.consistency_alarms`),
  :mod:`~forecaster.anomaly.mass_balance`; which column of the process each rule reads
  (:mod:`~forecaster.anomaly.rule_vars`), what they learn on normal batches
  (:mod:`~forecaster.anomaly.rule_profile`), their reasons in the user's words
  (:mod:`~forecaster.anomaly.rule_text`);
- detector: :class:`~forecaster.anomaly.detector.AnomalyDetector` (save/load, ``detect``,
  ``stream``), alarms via :mod:`~forecaster.anomaly.stream` and
  :mod:`~forecaster.anomaly.events`;
- fitting without a run: :func:`forecaster.anomaly.fit.fit_detector`; in a training run:
  the training run's anomaly stage calls it; the rule set alone of a saved detector:
  :func:`forecaster.anomaly.refit.refit_rules`, its step scale and thresholds:
  :func:`forecaster.anomaly.refit.refit_calibration`;
- evaluation: :mod:`~forecaster.anomaly.metrics`.
"""
