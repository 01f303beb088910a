"""Checks that alarm within an hour of a fault becoming visible: a frozen reading counted the
way the alarm tracker counts it, and the ramp-tuned CUSUMs on the controller residuals."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel, fit_consistency
from forecaster.anomaly.consistency_alarms import consistency_rules
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.events import find_spans
from forecaster.anomaly.refit import refit_rules
from forecaster.anomaly.rule_profile import RuleProfile, fit_rule_profile
from forecaster.anomaly.rules import evaluate_rules
from tests.anomaly.conftest import make_batch
from tests.anomaly.test_consistency import do_loop_batch, loop_batch

CFG = RulesConfig()


@pytest.mark.parametrize(
    ("flat_run_h", "flat_share", "expected"),
    [
        (0.0, 0.0, 1.0),  # never repeats: the config's 1 h (two repeats in a row)
        (1.0, 6e-5, 1.0),  # one repeat seen, p^2 x 2,400 = 1e-5: two repeats in a row
        (5.0, 0.01, 5.0),  # a 5-step flat run seen: longer than that
        (0.0, 0.4, 13.0),  # a historian storing changes: 0.4^14 x 2,400 < 0.01
    ],
)
def test_stuck_run_is_longer_than_training_and_unlikely_by_chance(flat_run_h, flat_share, expected):
    prof = RuleProfile(flat_run_h={"ph": flat_run_h}, flat_share={"ph": flat_share})
    assert prof.stuck_duration_h("ph", CFG) == expected


def _stuck_raised_h(rows: pd.DataFrame, prof: RuleProfile, var: str) -> list[float]:
    t = rows["time_h"].to_numpy(float)
    r = {x.name: x for x in evaluate_rules(rows, CFG, 400.0, None, prof)}[f"stuck_{var}"]
    spans = find_spans(t, r.flag, r.severity, 1, r.min_duration_h, CFG.clear_steps)
    return [s.raised_h for s in spans]


def _profile(batches: list[pd.DataFrame]) -> RuleProfile:
    return fit_rule_profile(batches, CFG, lambda b, p: evaluate_rules(b, CFG, 400.0, None, p))


def test_a_reading_that_repeats_once_in_training_alarms_on_its_second_repeat():
    train = [make_batch(f"N{i}", n_hours=120, seed=60 + i) for i in range(6)]
    train[0].loc[50, "ph"] = train[0].loc[49, "ph"]  # one repeated reading in a good batch
    prof = _profile(train)
    assert prof.flat_run_h["ph"] == 1.0
    assert prof.flat_share["ph"] == pytest.approx(1 / (6 * 107))  # steps after start-up
    assert _stuck_raised_h(train[0], prof, "ph") == []  # one repeat is normal here
    frozen = make_batch("F", n_hours=120, seed=70)
    frozen.loc[60:80, "ph"] = frozen.loc[59, "ph"]  # frozen from 60 h: repeats from 60 h
    assert _stuck_raised_h(frozen, prof, "ph") == [61.0]  # was 62 h before


def _rules(rows: pd.DataFrame, m: ConsistencyModel) -> dict:
    return {r.name: r for r in consistency_rules(rows, CFG, m)}


@pytest.fixture(scope="module")
def ph_model() -> ConsistencyModel:
    return fit_consistency([loop_batch(s) for s in range(30)], CFG)


@pytest.fixture(scope="module")
def do_model() -> ConsistencyModel:
    return fit_consistency([do_loop_batch(s) for s in range(20)], CFG)


def test_drift_limits_are_learned_on_good_batches(ph_model, do_model):
    assert 0 < ph_model.train_max["ph_drift"] < ph_model.train_max["ph_controller_mismatch"]
    assert 0 < do_model.train_max["do_drift"] < do_model.train_max["do_shift"]
    for seed in range(30, 36):  # good batches the limits were not learned on
        assert not _rules(loop_batch(seed), ph_model)["ph_drift"].flag.any()
    for seed in range(40, 46):
        assert not _rules(do_loop_batch(seed), do_model)["do_drift"].flag.any()


def _first(r: dict, names: tuple[str, str]) -> tuple[int, int]:
    return tuple(int(np.flatnonzero(r[n].flag)[0]) for n in names)  # type: ignore[return-value]


def test_ph_ramp_alarms_before_the_offset_cusum(ph_model):
    firsts = [
        _first(
            _rules(loop_batch(s, ph_drift_from=60.0), ph_model),
            ("ph_drift", "ph_controller_mismatch"),
        )
        for s in (20, 21, 22)
    ]
    assert all(60 <= ramp <= offset for ramp, offset in firsts)
    assert sum(ramp < offset for ramp, offset in firsts) >= 2  # an hour earlier on most


def test_do_ramp_alarms_before_the_offset_cusum(do_model):
    firsts = [
        _first(_rules(do_loop_batch(s, drift_from=120.0), do_model), ("do_drift", "do_shift"))
        for s in (31, 32, 33)
    ]
    assert all(120 <= ramp <= offset for ramp, offset in firsts)
    assert sum(ramp < offset for ramp, offset in firsts) >= 2


def test_ramp_reasons_name_the_allowance_limit_and_cause(ph_model, do_model):
    r = _rules(loop_batch(24, ph_drift_from=60.0), ph_model)["ph_drift"]
    i = int(np.flatnonzero(r.flag)[0])
    text = r.describe(i, 60.0)
    assert f"CUSUM {r.severity[i] * r.threshold:.0f} against {r.threshold:.0f}" in text
    assert "probe drift?" in text and "less 1 per hourly row" in r.threshold_unit
    d = _rules(do_loop_batch(34, drift_from=120.0), do_model)["do_drift"]
    j = int(np.flatnonzero(d.flag)[0])
    assert "oxygen cascade stays where it was" in d.describe(j, 120.0)


def test_a_model_fitted_before_the_ramp_checks_does_not_run_them(ph_model):
    old = ConsistencyModel(**{**ph_model.to_dict(), "train_max": {
        k: v for k, v in ph_model.train_max.items() if not k.endswith("_drift")
    }})  # fmt: skip
    names = set(_rules(loop_batch(20, ph_drift_from=60.0), old))
    assert "ph_controller_mismatch" in names and "ph_drift" not in names


def test_drift_k_zero_switches_the_ramp_checks_off():
    cfg = RulesConfig(drift_k=0.0)
    m = fit_consistency([loop_batch(s) for s in range(10)], cfg)
    assert "ph_drift" not in m.train_max and "do_drift" not in m.train_max
    with pytest.raises(ValueError, match="drift_k"):
        RulesConfig(drift_k=-1.0)


def test_refit_rules_adds_the_new_checks_and_keeps_the_scorers(tmp_path):
    src = Path(__file__).parent / "data" / "format_v1"
    shutil.copytree(src, tmp_path / "anomaly", ignore=shutil.ignore_patterns("expected.json"))
    old = AnomalyDetector.load(tmp_path)
    train = pd.concat([make_batch(f"N{i}", n_hours=96, seed=80 + i) for i in range(6)])
    new = refit_rules(old, train)
    assert "ph_drift" not in old.consistency.train_max
    assert {"ph_drift", "do_drift"} <= set(new.consistency.train_max)
    assert new.profile.n_batches == 6 and "ph" in new.profile.flat_share
    rows = make_batch("F", n_hours=96, seed=78, do_fault_h=40.0)
    pd.testing.assert_frame_equal(old.score(rows), new.score(rows))  # scorers untouched
    new.save(tmp_path / "again")
    again = AnomalyDetector.load(tmp_path / "again")
    assert again.consistency.train_max == new.consistency.train_max
    assert again.profile.flat_share == new.profile.flat_share
    with pytest.raises(ValueError, match="batch_id"):
        refit_rules(old, train.drop(columns="batch_id"))
