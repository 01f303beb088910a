"""Fitting a detector from batch tables: no run context, no run folder.

``fit_detector(train, val, cfg, prep, seed)`` builds the feature layout on the fault-free
training batches, fits every enabled scorer of ``cfg`` (the autoencoder, the PCA monitor,
any registered one) on them, calibrates each scorer's threshold with its own ``threshold``
settings, and fits the rule set's controller-consistency model, agitation maximum and rule
profile (noise, ranges, and the rules switched off for firing on more than
``auto_off_share`` of the training batches). The rules read the columns of the process
(:mod:`~forecaster.anomaly.rule_vars`).

Thresholds (``cfg.calibration``, :mod:`~forecaster.anomaly.oof`): with fewer than
``auto_below_batches`` training batches they are set *out of fold* on the training batches,
each scored by a scorer fitted without it, and the validation batches measure the false-alarm
rate on normal batches that set nothing; otherwise they are set on the validation batches.
The rules' firing shares are counted the same way. A calibration that looks contaminated by
unlabelled faults raises a ``UserWarning``.

Example::

    det, info = fit_detector(train_rows, val_rows, AnomalyConfig(), prep, seed=0)
    events = det.detect(new_batch_rows)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.features import FeatureSpec
from forecaster.anomaly.oof import heldout_rate, n_folds, oof_scores, resolve_mode
from forecaster.anomaly.registry import scorer_class
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rule_vars import RuleVariables, guess_process
from forecaster.anomaly.rules import evaluate_rules
from forecaster.anomaly.scorer import ScorerInput, rows_to_arrays
from forecaster.anomaly.threshold import Calibration, calibrate, check_contamination
from forecaster.data.features import Preprocessor
from forecaster.data.folds import kfold_batches
from forecaster.data.process import Process

Batches = dict[str, pd.DataFrame] | pd.DataFrame


def fit_detector(
    train: Batches,
    val: Batches,
    cfg: AnomalyConfig,
    prep: Preprocessor,
    seed: int,
    trainer_kwargs: dict[str, Any] | None = None,
    log_dir: str | Path | None = None,
    excluded: Iterable[str] = (),
    process: Process | None = None,
) -> tuple[AnomalyDetector, dict]:
    """Fit and calibrate every enabled scorer, and the rule set.

    Args:
        train: fault-free training batches: a batch table (rows of many batches, with
            ``batch_id``) or ``{batch_id: rows}``.
        val: fault-free calibration batches, the same way.
        cfg: the ``anomaly`` settings (each scorer's section holds its threshold).
        prep: preprocessing fitted on the training batches.
        seed: seeds the scorers' training.
        trainer_kwargs: ``lightning.Trainer`` settings for scorers that train a network.
        log_dir: TensorBoard folder for training curves (None: no logger).
        excluded: ids of validation batches left out for carrying fault labels (recorded
            in the calibrations, with a warning).
        process: the run's process definition: which columns the rules read (None: the
            preset that covers most of the training columns).

    Returns:
        The detector and a dict of plain facts about the fit (batch counts, scored
        variables, ``<scorer>_components`` where a scorer reports components).

    Raises:
        ValueError: no fault-free batch in ``train`` or ``val``.
    """
    train_rows = train if isinstance(train, pd.DataFrame) else _concat(train)
    tr, va = _groups(train), _groups(val)
    if not tr or not va:
        raise ValueError(
            f"fitting the anomaly detector needs fault-free batches in train and val, got {len(tr)} and {len(va)}"
        )
    ae = cfg.autoencoder
    spec = FeatureSpec.build(prep, train_rows, ae.score_roles, ae.exclude)
    x_tr, x_va = _inputs(tr, spec, prep), _inputs(va, spec, prep)
    excluded = sorted(excluded)
    log_dir = Path(log_dir) if log_dir is not None else None
    mode = resolve_mode(cfg.calibration, len(tr))
    ids = list(tr)
    folds = (
        kfold_batches(ids, n_folds(cfg.calibration, len(ids)), seed)
        if mode == "out_of_fold"
        else []
    )
    scorers = []
    for name, section in cfg.scorer_sections().items():
        if not getattr(section, "enabled", True):
            continue
        scorer = scorer_class(name).from_config(section, spec)
        scorer.fit(x_tr, x_va, seed=seed, trainer_kwargs=trainer_kwargs, log_dir=log_dir)
        series = [(x.t_h, scorer.score(x).score) for x in x_va]
        if folds:
            cal = _oof_calibration(name, section, spec, x_tr, x_va, ids, folds, seed,
                                   trainer_kwargs, series, excluded)  # fmt: skip
        else:
            cal = calibrate(series, section.threshold, excluded)
            train_scores = [scorer.score(x).score for x in x_tr]
            cal = check_contamination(
                cal, train_scores, dict(zip(va, (s for _, s in series))), name
            )
        scorers.append((scorer, cal))
    rv = RuleVariables.resolve(process or guess_process(train_rows.columns), cfg.rules.variables)
    agitation = rv.column("agitation_rpm")
    agitation_max = max(
        (float(np.nanmax(g[agitation])) for g in tr.values() if agitation in g),
        default=None,
    )
    views = {b: pd.DataFrame(rv.view(g)) for b, g in tr.items()}
    cons = fit_consistency(list(views.values()), cfg.rules) if cfg.rules.consistency else None
    profile = fit_rule_profile(
        list(tr.values()), cfg.rules,
        lambda rows, p: evaluate_rules(rows, cfg.rules, agitation_max, cons, p, rv),
        rv,
        [([str(ids.index(b)) for b in a], [str(ids.index(b)) for b in h]) for a, h in folds],
        [] if mode == "holdout" else list(va.values()),
    )  # fmt: skip
    det = AnomalyDetector(prep, spec, scorers, cfg.rules, cons, agitation_max, profile, rv)
    info: dict = {
        "n_train_batches": len(tr),
        "n_calibration_batches": len(va),
        "excluded_calibration_batches": excluded,
        "calibration_mode": mode,
        "calibration_folds": len(folds),
        "rule_variables": dict(rv.columns),
        "score_variables": spec.variables,
        "rules_off": dict(profile.off),
        "rule_notes": profile.notes(),
    }
    for s, _ in scorers:
        if "n_components" in (summary := s.summary()):
            info[f"{s.name}_components"] = summary["n_components"]
    return det, info


def _oof_calibration(name, section, spec, x_tr, x_va, ids, folds, seed, kwargs, val_series,
                     excluded) -> Calibration:  # fmt: skip
    """Threshold on the out-of-fold scores of the training batches; the validation batches
    (scored by the final scorer) measure the false-alarm rate on unseen normal batches."""
    series, fitted_on = oof_scores(
        lambda: scorer_class(name).from_config(section, spec), x_tr, x_va, ids, folds, seed,
        {"trainer_kwargs": kwargs, "log_dir": None},
    )  # fmt: skip
    cal = calibrate([series[b] for b in ids], section.threshold)
    if excluded:  # validation batches with faults: not in the held-out measurement
        msg = (f"{len(excluded)} validation batches with labelled faults were excluded from "
               "the held-out false-alarm measurement")  # fmt: skip
        warnings.warn(msg, stacklevel=3)
        cal.excluded_batches, cal.note = list(excluded), "; ".join(filter(None, (cal.note, msg)))
    cal = check_contamination(
        cal, [series[b][1] for b in ids], {b: series[b][1] for b in ids}, name, leave_one_out=True
    )
    cal.mode, cal.folds = "out_of_fold", len(folds)
    cal.scored_by_model_without = {b: sorted(set(ids) - set(fitted_on[b])) for b in ids}
    held = heldout_rate(cal, val_series)
    cal.heldout_batches, cal.heldout_events = held["batches"], held["events"]
    cal.heldout_batch_days = held["batch_days"]
    cal.heldout_rate_per_100_batch_days = held["rate_per_100_batch_days"]
    return cal


def _groups(batches: Batches) -> dict[str, pd.DataFrame]:
    """``{batch_id: rows sorted by time}`` in batch-id order."""
    if isinstance(batches, pd.DataFrame):
        items = ((str(b), g) for b, g in batches.groupby(schema.BATCH_ID, sort=True))
    else:
        items = ((str(b), batches[b]) for b in sorted(batches, key=str))
    return {b: g.sort_values(schema.TIME, kind="stable").reset_index(drop=True) for b, g in items}


def _concat(batches: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = []
    for b in sorted(batches, key=str):
        g = batches[b]
        parts.append(g if schema.BATCH_ID in g else g.assign(**{schema.BATCH_ID: b}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _inputs(groups: dict[str, pd.DataFrame], spec: FeatureSpec, prep: Preprocessor) -> list:
    out = []
    for g in groups.values():
        raw = rows_to_arrays(g)
        out.append(ScorerInput(raw[schema.TIME], raw, spec.features(prep, raw)))
    return out
