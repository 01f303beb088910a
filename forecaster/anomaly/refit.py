"""Re-fitting parts of a trained detector without training its networks again.

What the rules learn on the fault-free training batches (the controller-consistency model,
the highest normal agitation, the :class:`~forecaster.anomaly.rule_profile.RuleProfile`)
takes seconds to fit, where the autoencoder takes minutes. When the rule code gains a check
or changes how a limit is learned, :func:`refit_rules` brings a saved detector up to date on
the same training batches without touching its scorers or their calibrations.

:func:`refit_calibration` does the same for what the scorers learn after their networks:
the autoencoder's step scale (:mod:`~forecaster.anomaly.step_scale`, on the training
batches) and every scorer's threshold (on the validation batches, as a hold-out calibration
sets it), so a change there is measured on a trained run without training it again.

Example::

    det = AnomalyDetector.load("checkpoints/default")
    det = refit_rules(det, train_rows)  # the run's fault-free training batches
    det = refit_calibration(det, train_rows, val_rows)  # ... and its validation batches
    det.save("checkpoints/mine/anomaly")
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import AutoencoderConfig, RulesConfig, ThresholdConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.anomaly.rules import evaluate_rules
from forecaster.anomaly.scorer import ScorerInput, rows_to_arrays
from forecaster.anomaly.threshold import Calibration, calibrate, check_contamination


def refit_rules(
    det: AnomalyDetector,
    train: pd.DataFrame,
    rules: RulesConfig | None = None,
    heldout: pd.DataFrame | None = None,
) -> AnomalyDetector:
    """A copy of ``det`` whose rule set is fitted again on ``train``.

    Args:
        det: a trained detector (its scorers, calibrations and preprocessing are kept).
        train: rows of the fault-free training batches (with ``batch_id`` and ``time_h``),
            the batches the detector was trained on.
        rules: rule settings (None: the detector's own, with defaults for settings added
            since it was saved).
        heldout: rows of further normal batches whose firing shares are measured only.

    Returns:
        A new detector; ``det`` is unchanged.

    Raises:
        ValueError: ``train`` lacks ``batch_id`` or ``time_h``, or holds no rows.
    """
    _check_rows("refit_rules", "training", train)
    cfg = rules or det.rules
    rv = det.variables or RuleVariables.cho()
    batches = _batches(train)
    agitation = rv.column("agitation_rpm")
    agitation_max = max(
        (float(np.nanmax(b[agitation])) for b in batches if agitation in b), default=None
    )
    views = [pd.DataFrame(rv.view(b)) for b in batches]
    cons = fit_consistency(views, cfg) if cfg.consistency else None
    profile = fit_rule_profile(
        batches,
        cfg,
        lambda rows, p: evaluate_rules(rows, cfg, agitation_max, cons, p, rv),
        rv,
        None,
        _batches(heldout) if heldout is not None and len(heldout) else [],
    )
    return replace(det, rules=cfg, consistency=cons, agitation_max=agitation_max, profile=profile)


def _batches(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """One frame per batch, sorted by time, in batch-id order."""
    return [
        g.sort_values(schema.TIME, kind="stable").reset_index(drop=True)
        for _, g in rows.groupby(schema.BATCH_ID, sort=True)
    ]


def refit_calibration(
    det: AnomalyDetector,
    train: pd.DataFrame,
    val: pd.DataFrame,
    step_window_h: float | None = None,
) -> AnomalyDetector:
    """A copy of ``det`` whose autoencoder step scale and scorer thresholds are fitted again.

    The networks, per-hour error scales and PCA models are kept; the autoencoder's step
    scale is fitted on ``train`` and every threshold on ``val`` with the settings its
    calibration recorded (method, target rate, margin, persistence...), as a hold-out
    calibration does in :func:`~forecaster.anomaly.fit.fit_detector`.

    Args:
        det: a trained detector whose calibrations are hold-out ones.
        train: rows of the fault-free training batches (``batch_id``, ``time_h``).
        val: rows of the fault-free validation batches the thresholds were set on.
        step_window_h: hours of the step scale (None: the config default; 0: none).

    Returns:
        A new detector; ``det`` is unchanged.

    Raises:
        ValueError: rows without ``batch_id``/``time_h`` or empty, or an out-of-fold
            calibration (its fold scorers were not saved, so it cannot be redone here).
    """
    _check_rows("refit_calibration", "training", train)
    _check_rows("refit_calibration", "validation", val)
    oof = [s.name for s, c in det.scorers if c.mode != "holdout"]
    if oof:
        raise ValueError(
            f"refit_calibration redoes hold-out calibrations only; {oof} were calibrated "
            "out of fold (their fold scorers are not saved): train the run again"
        )
    window = AutoencoderConfig().step_window_h if step_window_h is None else step_window_h
    x_tr, x_va = _inputs(det, train), _inputs(det, val)
    scorers = []
    for scorer, cal in det.scorers:
        scorer = copy.copy(scorer)
        if hasattr(scorer, "fit_step"):
            scorer.fit_step([(x.t_h, x.feats) for x in x_tr], window)
        scorers.append((scorer, _recalibrate(scorer, cal, x_tr, x_va, val)))
    return replace(det, scorers=scorers)


def _recalibrate(scorer, cal: Calibration, x_tr: list, x_va: list, val) -> Calibration:
    """``cal`` set again on the validation inputs with the settings it recorded."""
    tcfg = ThresholdConfig(
        cal.method, cal.target_false_alarms_per_100_batch_days, cal.quantile, cal.margin,
        cal.persistence_steps, cal.clear_steps, cal.merge_gap_h, cal.setpoint_transient_h,
    )  # fmt: skip
    series = [(x.t_h, scorer.score(x).score) for x in x_va]
    new = calibrate(series, tcfg, list(cal.excluded_batches) or None)
    ids = sorted(str(b) for b in val[schema.BATCH_ID].unique())
    train_scores = [scorer.score(x).score for x in x_tr]
    return check_contamination(
        new, train_scores, dict(zip(ids, (s for _, s in series))), scorer.name
    )


def _inputs(det: AnomalyDetector, rows: pd.DataFrame) -> list[ScorerInput]:
    """Scorer inputs of each batch of ``rows``, in batch-id order."""
    out = []
    for b in _batches(rows):
        raw = rows_to_arrays(b)
        out.append(ScorerInput(raw[schema.TIME], raw, det.spec.features(det.prep, raw)))
    return out


def _check_rows(func: str, what: str, rows: pd.DataFrame) -> None:
    missing = [c for c in (schema.BATCH_ID, schema.TIME) if c not in rows.columns]
    if missing or rows.empty:
        raise ValueError(
            f"{func} needs the {what} rows with columns {missing or [schema.BATCH_ID, schema.TIME]} "
            f"(got {len(rows)} rows with columns {list(rows.columns)[:8]}...)"
        )
