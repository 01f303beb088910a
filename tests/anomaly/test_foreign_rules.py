"""Rules on a foreign process (process-improve's dryer batches, all normal): the rules that
apply follow its declared variables, and no rule left on fires on more than 5 % of the
normal batches, out of fold on the training batches or on held-out ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.anomaly.rules import evaluate_rules
from forecaster.data.folds import kfold_batches
from forecaster.data.process import Process, ProcessVariable

pi = pytest.importorskip("process_improve")

COLUMNS = {
    "DryerTemp": "dryer_temperature_C",
    "DryerTemperatureSP": "dryer_temperature_setpoint_C",
    "AgitatorSpeed": "agitator_speed_rpm",
    "DryerPressure": "dryer_pressure_kPa",
    "ClockTime": "time_h",  # one sample a step; read as hours
}
DRYER = Process(
    "custom",
    (
        ProcessVariable("dryer_temperature_C", "degC", "online"),
        ProcessVariable("dryer_temperature_setpoint_C", "degC", "setpoint"),
        ProcessVariable("agitator_speed_rpm", "rpm", "control"),
        ProcessVariable("dryer_pressure_kPa", "kPa", "online"),
    ),
    product="dryer_pressure_kPa",
)


@pytest.fixture(scope="module")
def dryer_batches() -> list[pd.DataFrame]:
    path = Path(pi.__file__).parent / "datasets" / "batch" / "dryer.csv"
    table = pd.read_csv(path).rename(columns=COLUMNS)[["batch_id", *COLUMNS.values()]]
    return [g.reset_index(drop=True) for _, g in table.groupby("batch_id", sort=True)]


def test_no_rule_left_on_fires_on_more_than_5_percent_of_normal_dryer_batches(dryer_batches):
    rv = RuleVariables.resolve(DRYER)
    assert rv.columns == {
        "temperature_C": "dryer_temperature_C",
        "temperature_setpoint_C": "dryer_temperature_setpoint_C",
        "agitation_rpm": "agitator_speed_rpm",
    }
    cfg = RulesConfig()
    train, held = dryer_batches[:50], dryer_batches[50:]
    cons = fit_consistency([pd.DataFrame(rv.view(b)) for b in train], cfg)
    folds = kfold_batches([str(i) for i in range(len(train))], 5, 0)
    prof = fit_rule_profile(
        train, cfg, lambda r, p: evaluate_rules(r, cfg, None, cons, p, rv), rv, folds, held
    )
    assert prof.firing_checked == "out_of_fold" and prof.heldout_batches == len(held)
    # the dryer's temperature trails its ramped set point: the CHO band does not hold there
    assert "temperature_off_setpoint" in prof.off and prof.off["temperature_off_setpoint"] > 0.05
    assert "rule `temperature_off_setpoint` fired on" in " ".join(prof.notes())
    left_on = {k: v for k, v in prof.firing_share.items() if k not in prof.off}
    assert left_on and max(left_on.values()) <= 0.05
    assert max(prof.heldout_firing_share.values()) <= 0.05
    assert "temperature_off_setpoint" not in prof.heldout_firing_share
