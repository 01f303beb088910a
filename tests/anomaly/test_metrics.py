"""Event matching, precision, false-alarm rate and delays on hand-made alarms and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.metrics import evaluate, match_faults

FAULTS = pd.DataFrame(
    {
        "batch_id": ["A", "B", "C"],
        "type": ["aeration_failure", "feed_pump_failure", "sensor_stuck"],
        "start_h": [100.0, 50.0, 20.0],
        "end_h": [110.0, 80.0, 30.0],
        "severity": [1.0, 1.0, 1.0],
        "affected": ["do_pct;agitation_rpm", "glucose_g_L;vcd_1e6_cells_mL", "ph"],
    }
)
DAYS = {"A": 5.0, "B": 5.0, "C": 5.0, "N1": 10.0, "N2": 10.0}


def ev(b, start, raised, end, top="do_pct", det="autoencoder"):
    return AlarmEvent(b, det, start, raised, end, 1.0, 1.0, None, [(top, 0.8)], "")


def test_matching_delay_and_top_variable():
    events = [
        ev("A", 99.0, 102.0, 108.0, "do_pct"),  # caught at 2 h, top var affected
        ev("A", 30.0, 31.0, 32.0),  # before the fault: a false alarm in a faulty batch
        ev("B", 120.0, 125.0, 126.0, "glucose_g_L"),  # 45 h after end: outside 24 h grace
        ev("C", 40.0, 45.0, 46.0, "do_pct"),  # within grace (end 30 + 24), wrong variable
        ev("N1", 10.0, 11.0, 12.0),  # false alarm in a fault-free batch
    ]
    recs = {r["batch_id"]: r for r in match_faults(events, FAULTS, grace_h=24.0)}
    assert recs["A"]["caught"] and recs["A"]["delay_h"] == 2.0 and recs["A"]["top_in_affected"]
    assert not recs["B"]["caught"] and recs["B"]["delay_h"] is None
    assert recs["C"]["caught"] and recs["C"]["delay_h"] == 25.0 and not recs["C"]["top_in_affected"]

    m = evaluate(events, FAULTS, DAYS, grace_h=24.0)
    assert m["event_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["event_recall_by_type"] == {
        "aeration_failure": 1.0,
        "feed_pump_failure": 0.0,
        "sensor_stuck": 1.0,
    }
    assert m["precision"] == pytest.approx(2 / 5)  # A@99 and C@40 overlap fault windows
    p, r = 2 / 5, 2 / 3
    assert m["f1"] == pytest.approx(2 * p * r / (p + r), abs=1e-4)
    assert m["false_alarms_per_100_batch_days"] == pytest.approx(100 * 1 / 20.0)
    assert m["median_delay_h"] == pytest.approx(13.5)
    assert m["median_delay_h_by_type"]["feed_pump_failure"] is None
    assert m["top_variable_accuracy"] == 0.5


def test_alarm_before_fault_start_is_not_a_catch():
    m = evaluate([ev("A", 90.0, 95.0, 120.0)], FAULTS, {"A": 5.0}, grace_h=24.0)
    assert m["event_recall"] == 0.0
    assert m["precision"] == 1.0  # it overlaps the fault window


def test_auroc_from_scores_and_labels():
    labels = {"A": np.array([0, 0, 1, 1]), "N1": np.array([0, 0, 0, 0])}
    scores = {"A": np.array([0.1, 0.2, 0.9, 0.8]), "N1": np.array([0.3, 0.1, 0.2, 0.4])}
    m = evaluate([], FAULTS, {"A": 1.0, "N1": 1.0}, 24.0, labels, scores)
    assert m["auroc"] == 1.0 and m["auprc"] == 1.0
    assert m["precision"] is None and m["false_alarms_per_100_batch_days"] == 0.0
