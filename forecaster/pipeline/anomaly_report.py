"""The anomaly section of ``report.md``, the per-batch figures and the TensorBoard logs."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.plots import batch_figure, score_histogram_figure
from forecaster.pipeline.anomaly_eval import Evaluation

log = logging.getLogger(__name__)


def _table_order(det: AnomalyDetector) -> list[str]:
    """Rows of the metric tables: primary scorer, rules, the other scorers, combined."""
    names = det.names
    return [names[0], "rules", *names[1:], "combined"]


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def training_notes(det: AnomalyDetector) -> list[str]:
    """Plain sentences about the fit: how each threshold was set (target beside the rate
    measured on held-out normal batches), contaminated calibrations, rules switched off."""
    out = [calibration_note(s.name, c) for s, c in det.scorers]
    out += [
        f"{s.name}: {c.contamination_warning}" for s, c in det.scorers if c.contamination_warning
    ]
    out += [rules_check_note(det.profile, det.rules.auto_off_share)] if det.profile else []
    return out + (det.profile.notes() if det.profile is not None else [])


def calibration_note(name: str, c) -> str:
    """How a scorer's threshold was set, its target and the false-alarm rate measured on
    normal batches that did not set it."""
    target = f"target {c.target_false_alarms_per_100_batch_days:g} false alarms / 100 batch-days"
    if c.mode != "out_of_fold":
        return (
            f"{name} threshold {c.threshold:.4g} set on {c.n_batches} fault-free validation "
            f"batches ({target}; {c.calibration_rate_per_100_batch_days:g} on them); the rate "
            "on held-out normal batches is the test table's false-alarm column"
        )
    measured = (
        f"{c.heldout_rate_per_100_batch_days:g} / 100 batch-days measured on "
        f"{c.heldout_batches} held-out normal validation batches ({c.heldout_batch_days:g} "
        f"batch-days, {c.heldout_events} false alarms)"
        if c.heldout_rate_per_100_batch_days is not None
        else "no held-out normal batch to measure it on"
    )
    return (
        f"{name} threshold {c.threshold:.4g} set out of fold ({c.folds} folds: each of the "
        f"{c.n_batches} training batches scored by a model fitted without it; {target}): "
        f"{measured}"
    )


def rules_check_note(p, share: float) -> str:
    """How often the rules fired on normal batches, against ``auto_off_share``."""
    how = "out of fold" if p.firing_checked == "out_of_fold" else "in sample"
    s = (
        f"rules checked {how} on {p.n_batches} fault-free training batches (switched off above "
        f"{share:.0%}); the most frequent rule left on fires on "
        f"{max((v for k, v in p.firing_share.items() if k not in p.off), default=0.0):.0%}"
    )
    if p.heldout_batches:
        held = max(p.heldout_firing_share.values(), default=0.0)
        s += f"; on {p.heldout_batches} held-out normal batches at most {held:.0%}"
    return s


def save_batch_figures(
    ctx, det: AnomalyDetector, ev: Evaluation, test: dict[str, pd.DataFrame], cfg: AnomalyConfig
) -> list[str]:
    """One figure per test batch with an alarm (at most ``cfg.eval.max_figures``); returns
    their paths relative to the run folder."""
    thr = {s.name: cal.threshold for s, cal in det.scorers}
    with_alarm = sorted({e.batch_id for e in ev.events})
    out = []
    fdir = ctx.figure_dir()
    for bid in with_alarm[: cfg.eval.max_figures]:
        faults = (
            ctx.faults[ctx.faults[schema.BATCH_ID].astype(str) == bid]
            if len(ctx.faults)
            else ctx.faults
        )
        fig = batch_figure(
            test[bid], ev.histories[bid], [e for e in ev.events if e.batch_id == bid], faults, thr,
            det.variables,
        )  # fmt: skip
        path = fdir / f"anomaly_{bid}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        out.append(str(path.relative_to(ctx.run_dir)))
    return out


def anomaly_report(
    ctx,
    det: AnomalyDetector,
    ev: Evaluation,
    result: dict,
    test: dict[str, pd.DataFrame],
    cfg: AnomalyConfig,
) -> str:
    """Markdown section: thresholds, metric table, per-fault-type table, bars, figures."""
    figs = save_batch_figures(ctx, det, ev, test, cfg)
    a = det.scorers[0][1]
    lines = [
        "## Anomaly detection",
        "",
        f"Autoencoder threshold **{a.threshold:.4g}** (mean normalised squared reconstruction error; "
        f"method `{a.method}`, target {a.target_false_alarms_per_100_batch_days:g} false alarms per 100 "
        f"batch-days, {a.n_batches} fault-free validation batches / {a.batch_days:.1f} batch-days, "
        f"{a.calibration_events} alarms there; alarm after {a.persistence_steps} steps above).",
    ]
    if (pca := det.get("pca")) is not None:
        m, p = pca[0].summary(), pca[1]
        lines.append(
            f"PCA monitor: {m['n_components']} components, T^2 limit {m['t2_limit']:.3g} "
            f"(alpha {m['alpha']:g}); alarm threshold {p.threshold:.3g} x the control limit, calibrated "
            f"the same way on the same batches."
        )
    if a.note and not a.contamination_warning:
        lines.append(f"Note: {a.note}.")
    lines += [f"- Note: {n}." for n in training_notes(det)]
    keys = ["event_recall", "precision", "f1", "false_alarms_per_100_batch_days", "median_delay_h",
            "auroc", "auprc", "top_variable_accuracy", "n_alarm_events", "n_incidents",
            "false_incidents_per_100_batch_days"]  # fmt: skip
    lines += ["", "| detector | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    dets = _table_order(det)
    for d in dets:
        if d in result and "event_recall" in result[d]:
            lines.append(f"| {d} | " + " | ".join(_fmt(result[d].get(k)) for k in keys) + " |")
    c = result.get("combined", {})
    if c.get("incidents_per_faulty_batch"):
        e, i = c["events_per_faulty_batch"], c["incidents_per_faulty_batch"]
        lines += ["", f"Alarm events of one fault are grouped into incidents (events of a batch "
                  f"within {c['incident_gap_h']:g} h of each other, any detector; "
                  "`anomaly/incidents.json` has each incident's timeline). Per faulty test batch "
                  f"(combined): {_fmt(e['median'])} events (max {e['max']}) -> "
                  f"{_fmt(i['median'])} incidents (max {i['max']})."]  # fmt: skip
    types = sorted(
        {t for d in dets if d in result for t in result[d].get("event_recall_by_type", {})}
    )
    present = [d for d in dets if d in result and "event_recall_by_type" in result[d]]
    n_by_type = (
        pd.Series(
            [str(x) for x in ctx.faults[ctx.faults[schema.BATCH_ID].astype(str).isin(test)]["type"]]
        ).value_counts()
        if len(ctx.faults)
        else pd.Series(dtype=int)
    )
    lines += ["", "Recall / median delay (h) per fault type on the test batches:", "",
              "| fault type | n | " + " | ".join(present) + " |", "|---" * (len(present) + 2) + "|"]  # fmt: skip
    for t in types:
        cells = [
            f"{_fmt(result[d]['event_recall_by_type'].get(t))} / {_fmt(result[d]['median_delay_h_by_type'].get(t))}"
            for d in present
        ]
        lines.append(f"| {t} | {int(n_by_type.get(t, 0))} | " + " | ".join(cells) + " |")
    bars = result["combined"].get("bars", {})
    if bars:
        lines += ["", "Bars (combined = autoencoder + rules):", ""]
        for k, v in bars.items():
            if k == "median_delay_h_by_type":
                for t, b in v.items():
                    lines.append(
                        f"- median delay {t}: {_fmt(b['value'])} h (bar <= {b['bar']:g} h): {'pass' if b['pass'] else 'FAIL'}"
                    )
            elif isinstance(v, dict):
                lines.append(
                    f"- {k}: {', '.join(f'{kk}={_fmt(vv)}' for kk, vv in v.items() if kk != 'pass')}: {'pass' if v['pass'] else 'FAIL'}"
                )
    if figs:
        lines += ["", "Test batches with an alarm:", ""]
        lines += [f"- ![{f}]({f})" for f in figs]
    return "\n".join(lines) + "\n"


def log_tensorboard(ctx, ev: Evaluation, thresholds: dict[str, float]) -> None:
    """Score distributions of normal and faulty rows (histograms + figures with threshold)."""
    if ctx.writer is None:
        return
    for d in thresholds:
        key = f"{d}_score"
        if not all(key in h for h in ev.histories.values()):
            continue
        s = np.concatenate([ev.histories[b][key] for b in ev.histories])
        y = np.concatenate([ev.labels[b] for b in ev.histories]).astype(bool)
        s = np.log10(np.maximum(s, 1e-9))
        ctx.writer.add_histogram(f"anomaly/{d}_log10_score_normal", s[~y], 0)
        if y.any():
            ctx.writer.add_histogram(f"anomaly/{d}_log10_score_faulty", s[y], 0)
        if hasattr(ctx.writer, "add_figure") and d in thresholds:
            fig = score_histogram_figure(10 ** s[~y], 10 ** s[y], thresholds[d], d)
            ctx.writer.add_figure(f"anomaly/{d}_score_distribution", fig, 0)
            plt.close(fig)
    ctx.writer.flush()
