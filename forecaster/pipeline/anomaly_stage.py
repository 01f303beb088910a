"""The anomaly stage of a training run: fit, save, evaluate, report.

``run_anomaly_stage(ctx)`` adapts the run context to
:func:`forecaster.anomaly.fit.fit_detector` (scorers trained on the fault-free training
batches, thresholds calibrated on the fault-free validation batches), saves the detector
under ``run_dir/anomaly/`` and, when labels exist, evaluates every scorer, the rules and the
combination (primary scorer + rules) on the test batches, which were used for neither
training nor calibration.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import pandas as pd
import torch

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.fit import fit_detector
from forecaster.data.io import atomic_write_text
from forecaster.pipeline.anomaly_eval import BARS, check_bars, evaluate_all
from forecaster.pipeline.anomaly_report import anomaly_report, log_tensorboard, training_notes
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


def run_anomaly_stage(ctx: RunContext) -> dict:
    """Train, calibrate, save and evaluate; returns the ``metrics["anomaly"]`` dict."""
    cfg = _config(ctx)
    if not cfg.enabled:
        return {"enabled": False}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out_dir = ctx.run_dir / "anomaly"
    det, info = fit_detector(
        ctx.batches("train", faulty=False), ctx.batches("val", faulty=False), cfg, ctx.prep,
        ctx.seed, ctx.trainer_kwargs, ctx.run_dir / "tb",
        excluded=set(ctx.splits["val"]) & ctx.faulty_ids, process=getattr(ctx, "process", None),
    )  # fmt: skip
    paths = det.save(out_dir)
    atomic_write_text(out_dir / "config.json", json.dumps(asdict(cfg), indent=2))
    result: dict = {}
    for s, cal in det.scorers:
        result[s.name] = {"threshold": cal.threshold, "calibration": cal.to_dict(), **s.summary()}
        if cal.contamination_warning:
            result[s.name]["calibration_warning"] = cal.contamination_warning
        result.setdefault("rules", {"settings": asdict(cfg.rules)})
    if det.profile is not None:  # what the rules learned; rules off, with the key to turn on
        result["rules"]["learned"] = {
            "firing_share_on_training_batches": det.profile.firing_share,
            "switched_off": det.profile.off,
            "forced_on": det.profile.forced_on,
            "stuck_off": det.profile.stuck_off,
            "spike_limits": det.profile.spike_limits,
            "firing_checked": det.profile.firing_checked,
            "heldout_batches": det.profile.heldout_batches,
            "heldout_firing_share": det.profile.heldout_firing_share,
            "feed_volume_sd_mL": det.profile.feed_volume_sd_mL,
            "to_switch_back_on": "anomaly.rules.force_on: [<rule>]",
            "notes": det.profile.notes(),
        }
    primary, cal0 = det.scorers[0]
    result["combined"] = {"detectors": list(det.default_detectors)}
    result["info"] = info
    result["files"] = {k: str(p.relative_to(ctx.run_dir)) for k, p in paths.items()}
    if cal0.note:
        result[primary.name]["note"] = cal0.note
    test = _groups(ctx.batches("test"))
    if not ctx.has_labels or not test:
        note = "no fault labels: detectors trained and calibrated, detection metrics skipped"
        if not test:
            note = "no test batches: detection metrics skipped"
        result["note"] = note
        notes = "".join(f"- Note: {n}.\n" for n in training_notes(det))
        ctx.report.append(f"## Anomaly detection\n\n{note}.\n\n{primary.name.capitalize()} threshold {cal0.threshold:.4g} "
                          f"({cal0.method}, {cal0.n_batches} calibration batches).\n\n{notes}")  # fmt: skip
        return result
    ev = evaluate_all(det, test, ctx.faults, cfg.eval.grace_h)
    for name, metrics in ev.metrics.items():
        result.setdefault(name, {}).update(metrics)
    result["combined"]["bars"] = check_bars(ev.metrics)
    result["bar_definitions"] = BARS
    atomic_write_text(
        out_dir / "events.json", json.dumps([e.to_dict() for e in ev.events], indent=1)
    )
    atomic_write_text(
        out_dir / "incidents.json", json.dumps([i.to_dict() for i in ev.incidents], indent=1)
    )
    ctx.report.append(anomaly_report(ctx, det, ev, result, test, cfg))
    log_tensorboard(ctx, ev, {s.name: cal.threshold for s, cal in det.scorers})
    return result
