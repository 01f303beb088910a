"""Each rule fires on a hand-made series and stays quiet on a normal one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_batch

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.rules import evaluate_rules


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
