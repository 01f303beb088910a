"""Out-of-fold calibration: thresholds set on scores of batches the scorer did not see.

With few training batches, a threshold calibrated on a handful of validation batches is a
rough guess, and scores of batches a model was fitted on are optimistic. Out-of-fold
calibration splits the fault-free training batches into ``folds`` folds by batch
(:func:`forecaster.data.folds.kfold_batches`); for each fold a fresh scorer is fitted on the
other folds and scores the fold's batches. Every training batch thus gets a score from a
model fitted without it, and the threshold is set on those scores for the target false-alarm
rate. The validation batches, used for no threshold, then measure the false-alarm rate of
the final scorer (fitted on all training batches) on normal batches it did not see; the
report gives that rate beside the target.

The rules are checked the same way: noise and ranges learned on the other folds, firing
share counted on the held-out fold (:func:`oof_firing`).

``mode`` (``anomaly.calibration.mode``): ``auto`` (out-of-fold below ``auto_below_batches``
training batches, else calibration on the validation batches), ``out_of_fold`` or
``holdout``.
"""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.config import CalibrationConfig
from forecaster.anomaly.threshold import Calibration, count_events, duration_days


def resolve_mode(cfg: CalibrationConfig, n_train: int) -> str:
    """``out_of_fold`` or ``holdout`` for a run with ``n_train`` training batches
    (out-of-fold needs at least 3 of them)."""
    if n_train < 3:
        return "holdout"
    if cfg.mode == "auto":
        return "out_of_fold" if n_train < cfg.auto_below_batches else "holdout"
    return cfg.mode


def n_folds(cfg: CalibrationConfig, n_train: int) -> int:
    """Folds used for ``n_train`` batches (each fold keeps >= 2 training batches)."""
    return int(min(cfg.folds, max(2, n_train - 1)))


def oof_scores(make, x_tr: list, x_va: list, ids: list[str], folds, seed: int, kwargs) -> tuple:
    """Score every training batch with a scorer fitted without it.

    Args:
        make: ``make() -> Scorer``, a fresh unfitted scorer.
        x_tr: scorer inputs of the training batches (aligned with ``ids``).
        x_va: scorer inputs of the validation batches (the fold models' early stopping).
        ids: training batch ids.
        folds: ``[(train_ids, held_out_ids), ...]`` partitioning ``ids``.
        seed: seed of each fold's fit.
        kwargs: ``fit`` keyword arguments (``trainer_kwargs``...).

    Returns:
        ``series``: ``{batch_id: (t_h: (T,), score: (T,))}`` out of fold, and ``fitted_on``:
        ``{batch_id: ids of the batches the scorer that scored it was fitted on}``.
    """
    pos = {b: i for i, b in enumerate(ids)}
    series, fitted_on = {}, {}
    for k, (fit_ids, held) in enumerate(folds):
        scorer = make()
        scorer.fit([x_tr[pos[b]] for b in fit_ids], x_va, seed=seed + k, **kwargs)
        for b in held:
            x = x_tr[pos[b]]
            series[b] = (np.asarray(x.t_h, float), np.asarray(scorer.score(x).score, float))
            fitted_on[b] = list(fit_ids)
    return series, fitted_on


def heldout_rate(
    cal: Calibration, series: list[tuple[np.ndarray, np.ndarray]]
) -> dict[str, float | int | None]:
    """False alarms at ``cal``'s threshold on normal batches not used to set it.

    Returns:
        ``{"batches", "batch_days", "events", "rate_per_100_batch_days"}`` (rate None
        without batches).
    """
    days = float(sum(duration_days(t) for t, _ in series))
    finite = [(np.asarray(t, float), np.nan_to_num(np.asarray(s, float))) for t, s in series]
    n = count_events(finite, cal.threshold, cal.persistence_steps, cal.clear_steps, cal.merge_gap_h)
    return {
        "batches": len(series),
        "batch_days": round(days, 3),
        "events": int(n),
        "rate_per_100_batch_days": round(100.0 * n / days, 4) if days > 0 else None,
    }


def oof_firing(batches: list, ids: list[str], folds, learn, count) -> dict[str, int]:
    """``{rule: training batches on which it fired}``, each batch checked by rules whose
    learned values (noise, ranges) came from the other folds.

    Args:
        batches: fault-free training batches (aligned with ``ids``).
        folds: ``[(train_ids, held_out_ids), ...]``.
        learn: ``learn(batches) -> RuleProfile`` (noise and ranges only).
        count: ``count(batches, profile) -> {rule: firings}``.
    """
    pos = {b: i for i, b in enumerate(ids)}
    fired: dict[str, int] = {}
    for fit_ids, held in folds:
        prof = learn([batches[pos[b]] for b in fit_ids])
        for name, n in count([batches[pos[b]] for b in held], prof).items():
            fired[name] = fired.get(name, 0) + n
    return fired
