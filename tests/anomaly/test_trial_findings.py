"""Findings of the user trial: alarms that mean what they say (one test each)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly import consistency as cons
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.incidents import assign_incidents, group_incidents
from forecaster.anomaly.metrics import evaluate
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rules import evaluate_rules
from forecaster.anomaly.threshold import Calibration, check_contamination
from tests.anomaly.conftest import make_batch

TRAIN = [make_batch(f"N{i}", n_hours=120, seed=40 + i) for i in range(8)]


def _profile(batches, cfg: RulesConfig):
    return fit_rule_profile(batches, cfg, lambda rows, p: evaluate_rules(rows, cfg, 400.0, None, p))


def _rules(rows, cfg, prof) -> dict:
    return {r.name: r for r in evaluate_rules(rows, cfg, 400.0, None, prof)}


def test_do_pinned_at_zero_is_oxygen_limited_never_frozen():
    cfg = RulesConfig()
    prof = _profile(TRAIN, cfg)
    rows = TRAIN[0].copy()
    rows.loc[60:75, "do_pct"] = 0.0  # the culture really is at 0 %: the probe is fine
    rows.loc[60:75, "agitation_rpm"] = 400.0
    fired = _rules(rows, cfg, prof)
    assert not fired["stuck_do_pct"].flag.any()
    low = fired["do_low"]
    reason = low.describe(70, 60.0)
    assert "DO at 0 % (oxygen-limited" in reason and "frozen" not in reason
    frozen = TRAIN[0].copy()
    frozen.loc[60:75, "do_pct"] = 38.2  # a transmitter frozen mid-range is still caught
    assert _rules(frozen, cfg, prof)["stuck_do_pct"].flag[62:75].all()


def test_viability_at_100_percent_is_not_a_frozen_reading():
    cfg = RulesConfig(stuck_variables=["viability_pct"])
    rows = TRAIN[0].copy()
    rows["viability_pct"] = 100.0
    assert not _rules(rows, cfg, _profile(TRAIN, cfg))["stuck_viability_pct"].flag.any()


def test_a_noise_free_signal_in_training_has_no_stuck_rule():
    cfg = RulesConfig()
    flat = [b.assign(temperature_C=36.8) for b in TRAIN]  # noise-free hourly export
    prof = _profile(flat, cfg)
    assert "temperature_C" in prof.stuck_off and "do_pct" not in prof.stuck_off
    fired = _rules(flat[0], cfg, prof)
    assert "stuck_temperature_C" not in fired
    assert not fired["stuck_do_pct"].flag.any()
    assert any("stuck_temperature_C" in n for n in prof.notes())


def test_a_rule_firing_on_most_normal_batches_is_switched_off_and_can_be_forced_on():
    low = [b.assign(glucose_g_L=np.where(b["glucose_g_L"].notna(), 0.2, np.nan)) for b in TRAIN]
    cfg = RulesConfig()  # a CHO starvation level on a process that runs glucose-limited
    prof = _profile(low, cfg)
    assert prof.off == {"glucose_starvation": 1.0} and prof.firing_share["do_low"] == 0.0
    assert "glucose_starvation" not in _rules(low[0], cfg, prof)
    note = " ".join(prof.notes())
    assert "100%" in note and "anomaly.rules.force_on: [glucose_starvation]" in note
    forced = RulesConfig(force_on=["glucose_starvation"])
    prof2 = _profile(low, forced)
    assert prof2.off == {} and "glucose_starvation" in _rules(low[0], forced, prof2)


def _ev(bid, det, start, end, rule=None) -> AlarmEvent:
    return AlarmEvent(bid, det, start, start, end, 2.0, 1.0, rule)


def test_events_of_one_fault_form_one_incident_with_a_timeline():
    evs = [_ev("B", "autoencoder", 40, 50), _ev("B", "rules", 44, 46, "do_low"),
           _ev("B", "rules", 58, 60, "oxygen_demand_rise"),  # within 12 h of the others
           _ev("B", "rules", 100, 101, "spike_ph"), _ev("C", "rules", 41, 42, "do_low")]  # fmt: skip
    incs = assign_incidents(evs, gap_h=12.0)
    assert [(i.incident_id, len(i.events)) for i in incs] == [("B-I1", 3), ("B-I2", 1), ("C-I1", 1)]
    assert [e.incident_id for e in evs] == ["B-I1", "B-I1", "B-I1", "B-I2", "C-I1"]
    assert evs[0].to_dict()["incident_id"] == "B-I1"
    assert incs[0].timeline()[1].startswith("44 h  rules:do_low")
    assert len(group_incidents(evs, gap_h=0.0)) == 4  # 58-60 is 8 h after the others


def test_metrics_count_incidents_beside_events():
    evs = [_ev("F", "rules", 40 + 2 * k, 41 + 2 * k, f"r{k}") for k in range(10)]
    evs.append(_ev("N", "rules", 10, 11, "x"))
    faults = pd.DataFrame({"batch_id": ["F"], "type": ["contamination"], "start_h": [40.0],
                           "end_h": [90.0], "severity": [1.0], "affected": ["do_pct"]})  # fmt: skip
    m = evaluate(evs, faults, {"F": 4.0, "N": 4.0}, 24.0, incident_gap_h=12.0)
    assert m["n_alarm_events"] == 11 and m["n_incidents"] == 2
    assert m["events_per_faulty_batch"] == {"median": 10.0, "max": 10}
    assert m["incidents_per_faulty_batch"] == {"median": 1.0, "max": 1}
    assert m["false_alarms_per_100_batch_days"] == m["false_incidents_per_100_batch_days"] == 25.0


def _recovered_aeration_failure() -> pd.DataFrame:
    rows = make_batch("A", n_hours=120, seed=90)
    fail = (rows["time_h"] >= 60) & (rows["time_h"] < 72)
    rows.loc[fail, "do_pct"] = 0.5  # DO collapses, the cascade runs to its ceiling...
    rows.loc[fail, "agitation_rpm"] = 500.0
    rows.loc[fail, "airflow_L_min"] = 0.5
    return rows  # ...and at 72 h aeration is back: the loop comes down, DO at set point


def test_do_shift_stays_silent_after_a_recovered_aeration_failure(monkeypatch):
    cfg = RulesConfig()
    m = fit_consistency(TRAIN, cfg)
    rows = _recovered_aeration_failure()
    t = rows["time_h"].to_numpy()
    stat = cons.statistics(rows, cfg, m)["do_shift"][0]
    lim = cfg.consistency_margin * m.train_max["do_shift"]
    assert not (stat[t >= 60] > lim).any()
    # without the restart the recovery transient alone would raise it: the test sees it
    monkeypatch.setattr(cons, "do_recovery", lambda t, u, z: np.zeros(len(t), dtype=bool))
    assert (cons.statistics(rows, cfg, m)["do_shift"][0][t >= 72] > lim).any()


def test_windowed_cusum_restarts_after_left_out_rows():
    z = np.array([3.0, 3.0, 3.0, 0.0, 3.0])
    restart = np.array([False, False, True, False, False])
    np.testing.assert_allclose(cons.windowed_cusum(z, 0.5, 10), [2.5, 5, 7.5, 7, 9.5])
    np.testing.assert_allclose(cons.windowed_cusum(z, 0.5, 10, restart), [2.5, 5, 0, 0, 2.5])


def _cal(thr: float) -> Calibration:
    return Calibration(thr, "event_rate", 0.3, 0.999, 1.2, 1, 6, 5, 100, 20.0, 0, 0, 0.0)


@pytest.mark.parametrize(
    "threshold, peaks, warns, suspects",
    [
        (12.0, [8.0, 9.0, 10.0, 9.5], False, []),  # clean: threshold near the training scores
        (803.0, [9.0, 8.0, 669.0, 10.0], True, ["V2"]),  # one batch carries a fault
        (803.0, [9.0, 8.0, 7.0, 10.0], True, []),  # far above the training scores
    ],
)
def test_contaminated_calibration_is_warned_about(threshold, peaks, warns, suspects):
    rng = np.random.default_rng(0)
    train = [np.abs(rng.normal(0, 3.0, 300)) for _ in range(5)]  # high quantile ~ 10
    val = {
        f"V{i}": np.concatenate([np.abs(rng.normal(0, 1.0, 99)), [p]]) for i, p in enumerate(peaks)
    }
    if warns:
        with pytest.warns(UserWarning, match="may never alarm"):
            cal = check_contamination(_cal(threshold), train, val, "autoencoder")
        assert cal.contamination_warning and cal.contamination_warning in cal.note
        assert "\n" not in cal.contamination_warning
    else:
        cal = check_contamination(_cal(threshold), train, val, "autoencoder")
        assert cal.contamination_warning == ""
    assert cal.suspect_batches == suspects


def test_an_outlying_batch_under_a_sound_threshold_is_not_called_a_fault_for_sure():
    """A fault-free batch of the default run (agitation cascade ramping early) peaked far
    above the others while the threshold stayed sound: the warning names the batch and
    both explanations, not just "unlabelled faults"."""
    rng = np.random.default_rng(0)
    train = [np.abs(rng.normal(0, 3.0, 300)) for _ in range(5)]
    val = {
        f"V{i}": np.concatenate([np.abs(rng.normal(0, 1.0, 99)), [p]])
        for i, p in enumerate([9.0, 8.0, 669.0, 10.0])
    }
    with pytest.warns(UserWarning, match="runs unlike the training batches"):
        cal = check_contamination(_cal(12.0), train, val, "pca")
    assert cal.suspect_batches == ["V2"] and "V2 (669)" in cal.contamination_warning
    assert "probably contain unlabelled faults" not in cal.contamination_warning


def test_batch_figure_labels_units_keys_detectors_and_keeps_legends_off_the_data():
    from forecaster.anomaly.plots import batch_figure, detector_color

    rows = make_batch("F", n_hours=96, seed=5, do_fault_h=40.0)
    t = rows["time_h"].to_numpy(float)
    hist = {"autoencoder_score": np.linspace(0.1, 5, len(t)), "pca_score": np.ones(len(t))}
    evs = [_ev("F", "autoencoder", 40, 60), _ev("F", "rules", 41, 90, "do_low"),
           _ev("F", "zscore", 42, 50)]  # fmt: skip
    faults = pd.DataFrame({"batch_id": ["F"], "type": ["aeration_failure"], "start_h": [40.0],
                           "end_h": [95.0], "severity": [1.0], "affected": ["do_pct"]})  # fmt: skip
    fig = batch_figure(rows, hist, evs, faults, {"autoencoder": 2.0, "pca": 1.0})
    fig.canvas.draw()
    for ax in fig.axes:
        assert "(" in ax.get_ylabel(), ax.get_ylabel()  # a unit in every y-label
        leg = ax.get_legend()
        if leg is not None:  # outside the axes, never over the data
            assert leg.get_window_extent().x0 >= ax.get_window_extent().x1
    labels = {h.get_label(): h.get_facecolor() for h in fig.legends[0].legend_handles}
    assert {"autoencoder alarm", "rules alarm", "zscore alarm", "true fault"} <= set(labels)
    from matplotlib.colors import to_rgb

    for d in ("autoencoder", "rules", "zscore"):
        assert to_rgb(labels[f"{d} alarm"]) == to_rgb(detector_color(d))
    assert len({detector_color(d) for d in ("autoencoder", "rules", "pca")}) == 3
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_one_firing_among_few_batches_does_not_switch_a_rule_off():
    from forecaster.anomaly.rule_profile import fires_too_often

    assert not fires_too_often(1, 6, 0.05)  # 17 % of 6 batches: one unlucky batch
    assert fires_too_often(2, 6, 0.05)
    assert fires_too_often(6, 6, 0.05)  # fires on every batch
    assert fires_too_often(10, 100, 0.05) and not fires_too_often(6, 100, 0.05)
