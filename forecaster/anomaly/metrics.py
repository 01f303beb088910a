"""Event-level evaluation of alarms against labelled faults (the simulator's fault table).

- A fault event is *caught* when the detector raises an alarm in that batch between the
  fault's start and its end plus ``grace_h``; the delay is from the fault's start to the
  first such alarm.
- An alarm event is *true* when its span overlaps a fault window (end + grace) of its batch.
- False alarms are counted on the fault-free batches only, per 100 batch-days.
- ``top_variable_accuracy``: share of caught faults whose first alarm's top variable is one
  of the fault's ``affected`` variables.
- Incidents (:mod:`~forecaster.anomaly.incidents`, with ``incident_gap_h``): the same counts
  for the grouped events (an incident is true when one of its events is), and the events
  and incidents per faulty batch an engineer has to read.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from forecaster import schema
from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.incidents import group_incidents


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def match_faults(events: list[AlarmEvent], faults: pd.DataFrame, grace_h: float) -> list[dict]:
    """One record per fault: type, caught, delay_h, top variable and whether it is affected."""
    by_batch: dict[str, list[AlarmEvent]] = {}
    for e in events:
        by_batch.setdefault(e.batch_id, []).append(e)
    out = []
    for f in faults.itertuples(index=False):
        bid, start = str(getattr(f, schema.BATCH_ID)), float(f.start_h)
        end = float(f.end_h) if pd.notna(f.end_h) else math.inf
        hits = [e for e in by_batch.get(bid, []) if start <= e.raised_h <= end + grace_h]
        first = min(hits, key=lambda e: e.raised_h) if hits else None
        affected = {a.strip() for a in str(f.affected).split(";") if a.strip()}
        top = first.top_variables[0][0] if first is not None and first.top_variables else None
        out.append({
            "batch_id": bid, "type": str(f.type), "start_h": start, "caught": first is not None,
            "delay_h": first.raised_h - start if first is not None else None,
            "top_variable": top, "top_in_affected": top in affected if top else False,
            "detector": first.rule or first.detector if first is not None else None,
        })  # fmt: skip
    return out


def is_true_alarm(e: AlarmEvent, faults: pd.DataFrame, grace_h: float) -> bool:
    """Whether alarm ``e`` overlaps a fault window (end + grace) of its batch."""
    f = faults[faults[schema.BATCH_ID].astype(str) == e.batch_id]
    for s, en in zip(f["start_h"].astype(float), f["end_h"].astype(float)):
        en = math.inf if not math.isfinite(en) else en
        if e.start_h <= en + grace_h and e.end_h >= s:
            return True
    return False


def evaluate(
    events: list[AlarmEvent],
    faults: pd.DataFrame,
    batch_days: dict[str, float],
    grace_h: float,
    labels: dict[str, np.ndarray] | None = None,
    scores: dict[str, np.ndarray] | None = None,
    incident_gap_h: float | None = None,
) -> dict:
    """Metrics of one detector over the test batches.

    Args:
        events: the detector's alarms on the test batches.
        faults: the fault table (rows of other batches are ignored).
        batch_days: test batch id -> days covered (defines the test set).
        grace_h: grace window after a fault's end.
        labels, scores: per test batch (T,) row labels (0/1) and scores, for AUROC/AUPRC;
            omit for detectors without a score.
        incident_gap_h: group the events into incidents with this gap and add the
            incident counts (None: events only).
    """
    ids = set(batch_days)
    faults = faults[faults[schema.BATCH_ID].astype(str).isin(ids)]
    events = [e for e in events if e.batch_id in ids]
    recs = match_faults(events, faults, grace_h)
    faulty = set(faults[schema.BATCH_ID].astype(str))
    if labels is not None:
        faulty |= {b for b, y in labels.items() if b in ids and np.nansum(y) > 0}
    caught = [r for r in recs if r["caught"]]
    n_true = sum(is_true_alarm(e, faults, grace_h) for e in events)
    recall = len(caught) / len(recs) if recs else None
    precision = n_true / len(events) if events else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if recall is not None and precision is not None else None)
    )
    free = ids - faulty
    free_days = sum(batch_days[b] for b in free)
    n_false_free = sum(1 for e in events if e.batch_id in free)
    types = sorted({r["type"] for r in recs})
    out: dict = {
        "n_test_batches": len(ids),
        "n_fault_free_batches": len(free),
        "n_fault_events": len(recs),
        "n_caught": len(caught),
        "n_alarm_events": len(events),
        "event_recall": _r(recall),
        "event_recall_by_type": {
            t: _r(np.mean([r["caught"] for r in recs if r["type"] == t])) for t in types
        },
        "precision": _r(precision),
        "f1": _r(f1),
        "false_alarms_per_100_batch_days": _r(100.0 * n_false_free / free_days)
        if free_days
        else None,
        "median_delay_h": _r(float(np.median([r["delay_h"] for r in caught]))) if caught else None,
        "median_delay_h_by_type": {
            t: _r(float(np.median(d)))
            if (d := [r["delay_h"] for r in caught if r["type"] == t])
            else None
            for t in types
        },
        "top_variable_accuracy": _r(np.mean([r["top_in_affected"] for r in caught]))
        if caught
        else None,
        "auroc": None,
        "auprc": None,
    }
    if incident_gap_h is not None:
        out.update(
            _incident_metrics(events, faults, ids, faulty, free_days, grace_h, incident_gap_h)
        )
    if labels is not None and scores is not None:
        keys = [b for b in sorted(ids) if b in labels and b in scores]
        y = np.concatenate([labels[b] for b in keys]).astype(int) if keys else np.zeros(0)
        s = np.concatenate([scores[b] for b in keys]) if keys else np.zeros(0)
        ok = np.isfinite(s)
        if ok.any() and 0 < y[ok].sum() < ok.sum():
            out["auroc"] = _r(roc_auc_score(y[ok], s[ok]))
            out["auprc"] = _r(average_precision_score(y[ok], s[ok]))
    return out


def _incident_metrics(
    events: list[AlarmEvent],
    faults: pd.DataFrame,
    ids: set[str],
    faulty: set[str],
    free_days: float,
    grace_h: float,
    gap_h: float,
) -> dict:
    """Incident counts beside the event counts (see the module docstring)."""
    incs = group_incidents(events, gap_h)
    true = [any(is_true_alarm(e, faults, grace_h) for e in i.events) for i in incs]
    n_false_free = sum(1 for i in incs if i.batch_id in ids - faulty)
    per_ev = [sum(e.batch_id == b for e in events) for b in sorted(faulty & ids)]
    per_inc = [sum(i.batch_id == b for i in incs) for b in sorted(faulty & ids)]

    def spread(x: list[int]) -> dict:
        return {"median": _r(float(np.median(x))), "max": int(max(x))} if x else {}

    return {
        "incident_gap_h": gap_h,
        "n_incidents": len(incs),
        "incident_precision": _r(sum(true) / len(incs)) if incs else None,
        "false_incidents_per_100_batch_days": _r(100.0 * n_false_free / free_days)
        if free_days
        else None,
        "events_per_faulty_batch": spread(per_ev),
        "incidents_per_faulty_batch": spread(per_inc),
    }
