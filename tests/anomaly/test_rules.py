"""Each rule fires on a hand-made series and stays quiet on a normal one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.events import find_spans
from forecaster.anomaly.rules import evaluate_rules
from forecaster.sim import SimConfig, simulate
from forecaster.sim.fault_config import FaultsConfig, FaultSpec
from tests.anomaly.conftest import make_batch


def _fired(rows, agitation_max=None) -> dict[str, np.ndarray]:
    return {r.name: r for r in evaluate_rules(rows, RulesConfig(), agitation_max)}


def _edit(rows, col, start, values):
    rows = rows.copy()
    rows.loc[rows.index[start : start + len(values)], col] = values
    return rows


NORMAL = make_batch("B0", n_hours=120, seed=3)


@pytest.mark.parametrize(
    "rule, col, start, values",
    [
        ("do_low", "do_pct", 50, [10.0, 9.0, 8.0]),
        ("ph_out_of_band", "ph", 60, [6.7, 6.7, 6.68]),
        ("temperature_off_setpoint", "temperature_C", 30, [38.5, 38.6]),
        ("glucose_starvation", "glucose_g_L", 72, [0.2]),
        ("vcd_drop", "vcd_1e6_cells_mL", 96, [0.5]),
        ("viability_drop", "viability_pct", 96, [70.0]),
        ("stuck_ph", "ph", 40, [7.013] * 8),
        ("spike_do_pct", "do_pct", 70, [80.0]),
        ("spike_temperature_C", "temperature_C", 70, [40.0]),
    ],
)
def test_rule_fires_on_fault_and_is_quiet_on_normal(rule, col, start, values):
    quiet = _fired(NORMAL)[rule]
    assert not quiet.flag.any(), f"{rule} fired on a normal batch"
    bad = _fired(_edit(NORMAL, col, start, values))[rule]
    flagged = np.flatnonzero(bad.flag)
    assert flagged.size and start <= flagged[0] <= start + len(values)
    assert bad.threshold > 0 or rule.startswith("stuck")
    i = int(flagged[-1])
    reason = bad.describe(i, float(flagged[0]))
    assert f"{i} h" in reason


def test_do_reason_mentions_setpoint_and_maximum_agitation():
    rows = _edit(NORMAL, "do_pct", 50, [10.0, 9.0])
    rows = _edit(rows, "agitation_rpm", 50, [400.0, 400.0])
    r = _fired(rows, agitation_max=400.0)["do_low"]
    text = r.describe(51, 50.0)
    assert "DO fell to 9 % at 51 h against a 40 % setpoint" in text
    assert "agitation was at its maximum" in text


def test_rules_are_causal():
    cut = 60
    full = {r.name: r.flag for r in evaluate_rules(NORMAL, RulesConfig())}
    changed = _edit(NORMAL, "do_pct", cut, [5.0] * 20)
    part = {r.name: r.flag for r in evaluate_rules(changed, RulesConfig())}
    for name in full:
        np.testing.assert_array_equal(full[name][:cut], part[name][:cut], err_msg=name)


def test_missing_columns_skip_rules():
    rows = NORMAL.drop(columns=["glucose_g_L", "ph_setpoint"])
    names = {r.name for r in evaluate_rules(rows, RulesConfig())}
    assert "glucose_starvation" not in names and "ph_out_of_band" not in names
    assert "do_low" in names


SETPOINTS = ["do_setpoint_pct", "ph_setpoint", "temperature_setpoint_C"]


def _events(rows, cfg: RulesConfig | None = None) -> list[tuple[str, float]]:
    """(rule, raised_h) of every rule alarm on one batch (durations and clearing applied)."""
    cfg = cfg or RulesConfig()
    t = rows["time_h"].to_numpy(float)
    out = []
    for r in evaluate_rules(rows, cfg, 250.0):
        for sp in find_spans(t, r.flag, r.severity, 1, r.min_duration_h, cfg.clear_steps):
            out.append((r.name, sp.raised_h))
    return out


@pytest.fixture(scope="module")
def normal_sim():
    """Fault-free simulated batches; each has the planned ~37 -> 31-34 C shift on day 3-6."""
    sim = simulate(SimConfig(faults=FaultsConfig(rate=0.0)), n_batches=6, seed=7)
    return [g.reset_index(drop=True) for _, g in sim.table.groupby("batch_id")]


@pytest.mark.parametrize("drop", [[], SETPOINTS], ids=["with_setpoints", "without_setpoints"])
def test_temperature_shift_raises_no_rule_alarm(normal_sim, drop):
    for g in normal_sim:
        sp = g["temperature_setpoint_C"].to_numpy()
        assert sp[0] - sp[-1] >= 2.5, "the simulated batch should have a temperature shift"
        assert _events(g.drop(columns=drop)) == [], g["batch_id"].iloc[0]


@pytest.mark.parametrize("drop", [[], SETPOINTS], ids=["with_setpoints", "without_setpoints"])
def test_do_and_ph_setpoint_changes_raise_no_rule_alarm(drop):
    rows = NORMAL.copy()
    t = rows["time_h"].to_numpy(float)
    after = t >= 60
    follow = np.where(after, 1.0 - np.exp(-(t - 60) / 0.7), 0.0)  # closed-loop response
    for col, sp_col, old, new in (("do_pct", "do_setpoint_pct", 40.0, 25.0),
                                  ("ph", "ph_setpoint", 7.0, 6.85)):  # fmt: skip
        rows[sp_col] = np.where(after, new, old)
        rows[col] = rows[col] + (new - old) * follow
    assert _events(rows.drop(columns=drop)) == []


def test_spike_without_setpoint_fires_when_the_reading_comes_back():
    rows = _edit(NORMAL.drop(columns=SETPOINTS), "temperature_C", 70, [40.0])
    assert ("spike_temperature_C", 71.0) in _events(rows)
    r = _fired(rows)["spike_temperature_C"]
    assert "spiked to 40 C at 70 h" in r.describe(71, 71.0)
    step = NORMAL.drop(columns=SETPOINTS).copy()
    step.loc[step["time_h"] >= 70, "temperature_C"] -= 3.0  # a lasting step is no spike
    assert not _fired(step)["spike_temperature_C"].flag.any()


def test_feed_balance_accepts_a_bolus_logged_at_its_first_row():
    rows = NORMAL.copy()
    t = rows["time_h"].to_numpy(float)
    rows["feed_rate_mL_h"] = np.where(t % 24 == 0, 60.0, 0.0)  # 60 mL over the next hour
    rows["base_rate_mL_h"] = 0.0
    delivered = np.floor(t / 24.0) * 0.060 + 0.060 * np.clip(t % 24, 0, 1)
    rows["volume_L"] = 1.5 + np.where(t >= 0, delivered, 0.0)
    assert not _fired(rows)["feed_not_delivered"].flag.any()
    rows["volume_L"] = 1.5  # the pump logs it but nothing arrives
    assert _fired(rows)["feed_not_delivered"].flag.any()


def test_a_lasting_do_collapse_is_not_a_spike_but_a_dip_that_returns_is():
    step = _edit(NORMAL, "do_pct", 70, [10.0] * 50)  # an aeration failure: DO stays down
    fired = _fired(step)
    assert not fired["spike_do_pct"].flag.any() and fired["do_low"].flag.any()
    dip = _fired(_edit(NORMAL, "do_pct", 70, [10.0]))["spike_do_pct"]
    assert np.flatnonzero(dip.flag).tolist() == [71]  # raised when the reading is back
    text = dip.describe(71, 71.0)
    assert "spiked to 10 % at 70 h" in text and "back at 71 h" in text


def test_spike_rules_catch_simulated_sensor_spikes_and_not_aeration_failures():
    fc = FaultsConfig(rate=1.0)
    off = {f.name: dataclasses.replace(getattr(fc, f.name), weight=0.0)
           for f in dataclasses.fields(fc) if isinstance(getattr(fc, f.name), FaultSpec)
           and f.name not in ("sensor_spikes", "aeration_failure")}  # fmt: skip
    sim = simulate(SimConfig(faults=dataclasses.replace(fc, **off)), n_batches=24, seed=11)
    kinds = set()
    for f in sim.faults.itertuples():
        kinds.add(f.type)
        g = sim.table[sim.table["batch_id"] == f.batch_id].reset_index(drop=True)
        raised = [h for name, h in _events(g) if name.startswith("spike_")]
        if f.type == "sensor_spikes":
            assert any(f.start_h <= h <= f.end_h + 2 for h in raised), f.batch_id
        else:
            assert raised == [], f.batch_id
    assert kinds == {"sensor_spikes", "aeration_failure"}
