"""Run every detector over the test batches and compute the metrics and the bars."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.incidents import Incident, assign_incidents
from forecaster.anomaly.metrics import evaluate
from forecaster.anomaly.threshold import duration_days

#: Fault types visible in online signals within hours; starvation shows in daily assays.
ONLINE_FAULTS: tuple[str, ...] = (
    "aeration_failure", "ph_control_failure", "temperature_control_failure", "contamination",
    "sensor_drift", "sensor_stuck", "sensor_spikes",
)  # fmt: skip
STARVATION_FAULTS: tuple[str, ...] = ("feed_pump_failure",)

BARS: dict[str, float] = {
    "event_recall_min": 0.95,
    "false_alarms_per_100_batch_days_max": 1.0,
    "median_delay_h_online_max": 2.0,
    "median_delay_h_starvation_max": 12.0,
    "top_variable_accuracy_min": 0.8,
}


@dataclass
class Evaluation:
    """Everything the report and plots need: events, per-row histories, labels, metrics."""

    events: list[AlarmEvent]
    histories: dict[str, dict[str, np.ndarray]]
    labels: dict[str, np.ndarray]
    metrics: dict[str, dict] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)


def row_labels(rows: pd.DataFrame, faults: pd.DataFrame) -> np.ndarray:
    """(T,) 0/1 fault label per row: the ``fault_label`` column, else from the fault table."""
    if schema.FAULT_LABEL in rows:
        return rows[schema.FAULT_LABEL].fillna(0).to_numpy(dtype=float).clip(0, 1).astype(int)
    t = rows[schema.TIME].to_numpy(float)
    y = np.zeros(len(t), dtype=int)
    bid = str(rows[schema.BATCH_ID].iloc[0])
    for f in faults[faults[schema.BATCH_ID].astype(str) == bid].itertuples(index=False):
        end = float(f.end_h) if pd.notna(f.end_h) else np.inf
        y |= (t >= float(f.start_h)) & (t <= end)
    return y


def evaluate_all(
    det: AnomalyDetector, test: dict[str, pd.DataFrame], faults: pd.DataFrame, grace_h: float
) -> Evaluation:
    """Detect on every test batch (one pass each) and score every scorer, the rules and the
    combination (the detector's default set: primary scorer + rules).

    Event metrics (and so the bars) are computed as before; each detector's incident counts
    are added beside them (each detector's own events grouped), and ``incidents`` holds the
    incidents of all the events, as the stream grouped them (``incident_id``)."""
    dets = (*det.names, "rules")
    events: list[AlarmEvent] = []
    hist, labels, days = {}, {}, {}
    for bid, rows in test.items():
        s = det.stream(bid, detectors=dets, keep_history=True)
        s.update(rows)
        events += s.events
        hist[bid] = s.history()
        labels[bid] = row_labels(rows, faults)
        days[bid] = duration_days(rows[schema.TIME].to_numpy(float))
    gap = det.rules.incident_gap_h
    by = {d: [e for e in events if e.detector == d] for d in dets}
    combined = [e for d in det.default_detectors for e in by[d]]
    ev = Evaluation(events, hist, labels, incidents=assign_incidents(events, gap))
    for name in det.names:
        scores = {b: h[f"{name}_score"] for b, h in hist.items()}
        ev.metrics[name] = evaluate(by[name], faults, days, grace_h, labels, scores, gap)
    ev.metrics["rules"] = evaluate(by["rules"], faults, days, grace_h, incident_gap_h=gap)
    ev.metrics["combined"] = evaluate(combined, faults, days, grace_h, incident_gap_h=gap)
    return ev


def check_bars(metrics: dict[str, dict]) -> dict:
    """Pass/fail of each bar of the issue for the combined detector, and AE vs PCA."""
    c = metrics["combined"]

    def ge(x, b):
        return x is not None and x >= b

    def le(x, b):
        return x is not None and x <= b

    out: dict = {
        "event_recall": {"value": c["event_recall"], "bar": BARS["event_recall_min"],
                         "pass": ge(c["event_recall"], BARS["event_recall_min"])},
        "false_alarms_per_100_batch_days": {
            "value": c["false_alarms_per_100_batch_days"], "bar": BARS["false_alarms_per_100_batch_days_max"],
            "pass": le(c["false_alarms_per_100_batch_days"], BARS["false_alarms_per_100_batch_days_max"])},
        "top_variable_accuracy": {"value": c["top_variable_accuracy"], "bar": BARS["top_variable_accuracy_min"],
                                  "pass": ge(c["top_variable_accuracy"], BARS["top_variable_accuracy_min"])},
    }  # fmt: skip
    delays = {}
    for t, d in c["median_delay_h_by_type"].items():
        bar = (
            BARS["median_delay_h_starvation_max"]
            if t in STARVATION_FAULTS
            else BARS["median_delay_h_online_max"]
        )
        delays[t] = {"value": d, "bar": bar, "pass": le(d, bar)}
    out["median_delay_h_by_type"] = delays
    if "pca" in metrics:
        a, p = metrics["autoencoder"], metrics["pca"]
        out["autoencoder_beats_pca_f1"] = {"autoencoder": a["f1"], "pca": p["f1"],
                                           "pass": (a["f1"] or 0) > (p["f1"] or 0)}  # fmt: skip
        da, dp = a["median_delay_h"], p["median_delay_h"]
        out["autoencoder_beats_pca_delay"] = {"autoencoder": da, "pca": dp,
                                              "pass": da is not None and (dp is None or da < dp)}  # fmt: skip
    out["all_pass"] = all(
        v["pass"] for k, v in out.items() if isinstance(v, dict) and "pass" in v
    ) and all(v["pass"] for v in delays.values())
    return out
