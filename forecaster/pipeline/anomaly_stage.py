"""The anomaly stage of a training run: train, calibrate, save, evaluate, report.

``run_anomaly_stage(ctx)`` trains the autoencoder on fault-free training batches, fits the
PCA monitor on the same batches, calibrates both thresholds on fault-free validation
batches, saves everything under ``run_dir/anomaly/`` and, when labels exist, evaluates the
autoencoder, the rules, the PCA monitor and the combination (autoencoder + rules) on the
test batches, which were used for neither training nor calibration.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.pca import PCAMonitor
from forecaster.anomaly.scores import AEScorer, FeatureSpec
from forecaster.anomaly.threshold import calibrate
from forecaster.anomaly.train_ae import train_autoencoder
from forecaster.pipeline.anomaly_eval import BARS, check_bars, evaluate_all
from forecaster.pipeline.anomaly_report import anomaly_report, log_tensorboard
from forecaster.pipeline.context import RunContext

log = logging.getLogger(__name__)


def _groups(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        str(b): g.sort_values(schema.TIME, kind="stable").reset_index(drop=True)
        for b, g in table.groupby(schema.BATCH_ID, sort=True)
    }


def _config(ctx: RunContext) -> AnomalyConfig:
    cfg = getattr(ctx.cfg, "anomaly", None)
    if cfg is None:
        return AnomalyConfig()
    return AnomalyConfig(**cfg) if isinstance(cfg, dict) else cfg


def fit_detector(ctx: RunContext, cfg: AnomalyConfig) -> tuple[AnomalyDetector, dict]:
    """Train the autoencoder, fit the PCA monitor and calibrate both thresholds."""
    prep = ctx.prep
    train_rows = ctx.batches("train", faulty=False)
    spec = FeatureSpec.build(prep, train_rows, cfg.autoencoder.score_roles, cfg.autoencoder.exclude)
    train = _groups(train_rows)
    val = _groups(ctx.batches("val", faulty=False))
    excluded = sorted(set(ctx.splits["val"]) & ctx.faulty_ids)
    if not train or not val:
        raise ValueError(
            f"the anomaly stage needs fault-free batches in train and val, got {len(train)} and {len(val)}"
        )
    f_train = {b: spec.features(prep, g) for b, g in train.items()}
    f_val = {b: spec.features(prep, g) for b, g in val.items()}
    t_train = {b: g[schema.TIME].to_numpy(float) for b, g in train.items()}
    t_val = {b: g[schema.TIME].to_numpy(float) for b, g in val.items()}
    torch.manual_seed(ctx.seed)
    net, hparams = train_autoencoder(
        list(f_train.values()), list(f_val.values()), spec, cfg.autoencoder, ctx.seed,
        ctx.trainer_kwargs, ctx.run_dir / "tb",
    )  # fmt: skip
    err_scale, dt = AEScorer.fit_err_scale(
        net, spec, cfg.autoencoder.window_h, [(t_train[b], f) for b, f in f_train.items()],
        method=cfg.autoencoder.err_norm,
    )  # fmt: skip
    top_k = cfg.autoencoder.score_top_k
    transient = cfg.threshold.setpoint_transient_h
    scorer = AEScorer(net, spec, cfg.autoencoder.window_h, err_scale, dt, top_k, transient)
    ae_series = [(t_val[b], scorer.score(f, t_val[b]).score) for b, f in f_val.items()]
    ae_cal = calibrate(ae_series, cfg.threshold, excluded)
    pca = pca_cal = None
    if cfg.pca.enabled:
        xs = [(t_train[b], f[:, spec.target_idx].astype(float)) for b, f in f_train.items()]
        pca = PCAMonitor.fit(xs, cfg.pca)
        pca_thr = type(cfg.threshold)(**{**asdict(cfg.threshold), "persistence_steps": cfg.pca.persistence_steps,
                                         "clear_steps": cfg.pca.clear_steps, "margin": cfg.pca.margin})  # fmt: skip
        series = [
            (
                t_val[b],
                pca.score(
                    t_val[b], f[:, spec.target_idx].astype(float), spec.in_transient(f, transient)
                ).score,
            )
            for b, f in f_val.items()
        ]
        pca_cal = calibrate(series, pca_thr, excluded)
    agit = train.values()
    agitation_max = max(
        (float(np.nanmax(g["agitation_rpm"])) for g in agit if "agitation_rpm" in g), default=None
    )
    cons = fit_consistency(list(train.values()), cfg.rules) if cfg.rules.consistency else None
    det = AnomalyDetector(prep, net, hparams, spec, cfg.autoencoder.window_h, err_scale, dt, ae_cal,
                          cfg.rules, agitation_max, pca, pca_cal, cons, top_k)  # fmt: skip
    info = {
        "n_train_batches": len(train),
        "n_calibration_batches": len(val),
        "excluded_calibration_batches": excluded,
        "score_variables": spec.variables,
        "pca_components": int(pca.loadings.shape[1]) if pca is not None else None,
    }
    return det, info


def run_anomaly_stage(ctx: RunContext) -> dict:
    """Train, calibrate, save and evaluate; returns the ``metrics["anomaly"]`` dict."""
    cfg = _config(ctx)
    if not cfg.enabled:
        return {"enabled": False}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out_dir = ctx.run_dir / "anomaly"
    det, info = fit_detector(ctx, cfg)
    paths = det.save(out_dir)
    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    result: dict = {
        "autoencoder": {"threshold": det.ae_cal.threshold, "calibration": det.ae_cal.to_dict()},
        "rules": {"settings": asdict(cfg.rules)},
        "pca": {
            "threshold": det.pca_cal.threshold if det.pca_cal else None,
            "calibration": det.pca_cal.to_dict() if det.pca_cal else None,
            "t2_limit": det.pca.t2_limit if det.pca else None,
            "n_components": info["pca_components"],
            "alpha": cfg.pca.alpha,
        },
        "combined": {"detectors": ["autoencoder", "rules"]},
        "info": info,
        "files": {k: str(p.relative_to(ctx.run_dir)) for k, p in paths.items()},
    }
    if det.ae_cal.note:
        result["autoencoder"]["note"] = det.ae_cal.note
    test = _groups(ctx.batches("test"))
    if not ctx.has_labels or not test:
        note = "no fault labels: detectors trained and calibrated, detection metrics skipped"
        if not test:
            note = "no test batches: detection metrics skipped"
        result["note"] = note
        ctx.report.append(f"## Anomaly detection\n\n{note}.\n\nAutoencoder threshold {det.ae_cal.threshold:.4g} "
                          f"({det.ae_cal.method}, {det.ae_cal.n_batches} calibration batches).\n")  # fmt: skip
        return result
    ev = evaluate_all(det, test, ctx.faults, cfg.eval.grace_h)
    for name in ("autoencoder", "rules", "pca", "combined"):
        if name in ev.metrics:
            result[name].update(ev.metrics[name])
    result["combined"]["bars"] = check_bars(ev.metrics)
    result["bar_definitions"] = BARS
    (out_dir / "events.json").write_text(json.dumps([e.to_dict() for e in ev.events], indent=1))
    ctx.report.append(anomaly_report(ctx, det, ev, result, test, cfg))
    thr = {"autoencoder": det.ae_cal.threshold}
    if det.pca_cal is not None:
        thr["pca"] = det.pca_cal.threshold
    log_tensorboard(ctx, ev, thr)
    return result
