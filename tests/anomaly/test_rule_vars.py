"""Rules on a non-CHO process: physical rules follow the process's columns, CHO-only ones
do not apply, learned ones do, and reasons speak the user's column names and units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rule_vars import RuleVariables, guess_process
from forecaster.anomaly.rules import evaluate_rules
from forecaster.data.process import preset
from tests.anomaly.conftest import make_batch

MICROBIAL = preset("microbial_fedbatch")
SAT = MICROBIAL.saturation_mg_L()


def microbial_batch(seed: int = 0, do_fault_h: float | None = None) -> pd.DataFrame:
    """A CHO test batch renamed and converted to the microbial preset's columns; its
    substrate sits at 0.1 g/L (normal for a substrate-limited microbial feed)."""
    b = make_batch(f"M{seed:03d}", 96, seed, do_fault_h)
    daily = b["glucose_g_L"].notna()
    return pd.DataFrame({
        "batch_id": b["batch_id"], "time_h": b["time_h"],
        "do_mg_L": b["do_pct"] * SAT / 100.0,
        "ph": b["ph"], "ph_setpoint": b["ph_setpoint"],
        "temperature_C": b["temperature_C"], "temperature_setpoint_C": b["temperature_setpoint_C"],
        "volume_L": b["volume_L"], "agitation_rpm": b["agitation_rpm"],
        "airflow_L_min": b["airflow_L_min"],
        "feed_flow_L_h": b["feed_rate_mL_h"] / 1000.0, "base_flow_L_h": b["base_rate_mL_h"] / 1000.0,
        "substrate_g_L": np.where(daily, 0.1, np.nan),
        "biomass_g_L": np.where(daily, 1.0 + 0.1 * b["time_h"], np.nan),
        "product_g_L": b["titer_mg_L"] / 1000.0,
    })  # fmt: skip


def _names(results) -> dict:
    return {r.name: r for r in results}


def _fired(r) -> bool:
    return bool(r.flag.any())


def test_parts_follow_the_microbial_columns_and_leave_cho_only_checks_out():
    rv = RuleVariables.resolve(MICROBIAL)
    assert rv.column("do_pct") == "do_mg_L" and rv.scale["do_pct"] == pytest.approx(100 / SAT)
    assert rv.column("feed_rate_mL_h") == "feed_flow_L_h" and rv.scale["feed_rate_mL_h"] == 1000
    assert not {"glucose_g_L", "vcd_1e6_cells_mL", "viability_pct"} & set(rv.columns)
    assert guess_process(microbial_batch().columns).name == "microbial_fedbatch"
    with pytest.raises(ValueError, match="not a variable of process"):
        RuleVariables.resolve(MICROBIAL, {"glucose_g_L": "glucose_g_L"})


def test_cho_only_rules_do_not_apply_and_do_floor_speaks_mg_per_L():
    rv = RuleVariables.resolve(MICROBIAL)
    cfg = RulesConfig()
    normal = _names(evaluate_rules(microbial_batch(1), cfg, variables=rv))
    # substrate at 0.1 g/L is below the CHO starvation level, yet no CHO-only rule runs
    assert not {"glucose_starvation", "vcd_drop", "viability_drop"} & set(normal)
    assert {"do_low", "ph_out_of_band", "temperature_off_setpoint", "feed_not_delivered"} <= set(
        normal
    )
    assert not any(_fired(r) for r in normal.values() if r.name != "feed_not_delivered")
    faulty = _names(evaluate_rules(microbial_batch(2, do_fault_h=40.0), cfg, variables=rv))
    do = faulty["do_low"]
    assert _fired(do) and do.variable == "do_mg_L"
    i = int(np.flatnonzero(do.flag)[5])
    text = do.describe(i, 42.0)
    assert "mg/L" in text and "%" not in text
    floor_mg = cfg.do_floor_pct * SAT / 100.0
    assert f"{floor_mg:g} mg/L floor" in text
    with use_vocabulary(Vocabulary(names={"do_mg_L": "Dissolved O2 (mg/L)"})):
        assert do.describe(i, 42.0).startswith("Dissolved O2 fell to")


def test_a_mapping_switches_the_starvation_check_on_for_another_substrate():
    rv = RuleVariables.resolve(MICROBIAL, {"glucose_g_L": "substrate_g_L"})
    cfg = RulesConfig(glucose_starvation_g_L=0.2)
    r = _names(evaluate_rules(microbial_batch(3), cfg, variables=rv))["glucose_starvation"]
    assert _fired(r) and r.variable == "substrate_g_L"
    assert "Substrate assay 0.10 g/L" in r.describe(int(np.flatnonzero(r.flag)[0]), 0.0)


def test_learned_rules_apply_on_microbial_columns():
    rv = RuleVariables.resolve(MICROBIAL)
    cfg = RulesConfig()
    train = [microbial_batch(s) for s in range(6)]
    prof = fit_rule_profile(
        train, cfg, lambda rows, p: evaluate_rules(rows, cfg, None, None, p, rv), rv
    )
    assert prof.noise["do_pct"] > 0 and "do_pct" not in prof.stuck_off  # DO has noise
    assert prof.firing_share.get("stuck_do_pct") == 0.0
    stuck = microbial_batch(9)
    stuck.loc[stuck["time_h"].between(50, 60), "do_mg_L"] = float(stuck["do_mg_L"].iloc[50])
    r = _names(evaluate_rules(stuck, cfg, None, None, prof, rv))["stuck_do_pct"]
    assert _fired(r) and r.variable == "do_mg_L"
    assert "mg/L" in r.describe(int(np.flatnonzero(r.flag)[-1]), 50.0)
    # a noise-free reading (a constant-logged pH) cannot be judged stuck: its rule is off
    flat = [b.assign(ph=7.0) for b in train]
    prof2 = fit_rule_profile(
        flat, cfg, lambda rows, p: evaluate_rules(rows, cfg, None, None, p, rv), rv
    )
    assert "ph" in prof2.stuck_off and "stuck_ph" not in prof2.firing_share


def test_detector_on_a_microbial_table_alarms_in_its_columns(tmp_path):
    from forecaster.anomaly.config import AnomalyConfig, AutoencoderConfig
    from forecaster.anomaly.detector import AnomalyDetector
    from forecaster.anomaly.fit import fit_detector
    from forecaster.data.features import Preprocessor
    from tests.anomaly.conftest import FAST_TRAINER

    train = {f"M{s:03d}": microbial_batch(s) for s in range(6)}
    val = {f"M{s:03d}": microbial_batch(s) for s in range(6, 9)}
    names = [v for v in MICROBIAL.names if v in train["M000"]]
    prep = Preprocessor.fit(pd.concat(train.values()), names, process=MICROBIAL)
    cfg = AnomalyConfig(
        autoencoder=AutoencoderConfig(window_h=4, hidden_size=8, latent_size=2, max_epochs=1)
    )
    det, info = fit_detector(
        train, val, cfg, prep, seed=0, trainer_kwargs=dict(FAST_TRAINER), process=MICROBIAL
    )
    assert info["rule_variables"]["do_pct"] == "do_mg_L"
    assert "glucose_starvation" not in det.profile.firing_share  # CHO-only: not applied
    det.save(tmp_path / "anomaly")
    det = AnomalyDetector.load(tmp_path)
    assert det.variables is not None and det.variables.column("do_pct") == "do_mg_L"
    faulty = microbial_batch(20, do_fault_h=40.0)
    with use_vocabulary(Vocabulary(names={"do_mg_L": "DO probe (mg/L)"}, process=MICROBIAL)):
        events = [e for e in det.detect(faulty) if e.rule == "do_low"]
    assert events and events[0].top_variables[0][0] == "do_mg_L"
    assert "DO probe fell to" in events[0].reason and "%" not in events[0].reason


def test_batch_figure_draws_the_microbial_columns():
    import matplotlib.pyplot as plt

    from forecaster.anomaly.plots import _panels, batch_figure

    rows = microbial_batch(4)
    panels = dict(_panels(rows, None))
    assert ("do_mg_L",) in panels and panels[("do_mg_L",)] == "DO (mg/L)"
    assert ("ph", "ph_setpoint") in panels and not any("glucose_g_L" in c for c in panels)
    fig = batch_figure(rows, {}, [], rows.iloc[:0], {})
    assert len(fig.axes) >= len(panels) + 1
    plt.close(fig)


def test_more_product_than_expected_is_good_news_for_any_process():
    from forecaster.anomaly.reasons import describe_variable

    raw = {"time_h": np.array([0.0, 24.0]), "product_g_L": np.array([1.0, 5.0])}
    text = describe_variable("product_g_L", raw, 1, 24.0, expected=3.0,
                             vocab=Vocabulary(process=MICROBIAL))  # fmt: skip
    assert text.startswith("Product rose to 5 g/L") and "better than expected" in text
    plain = describe_variable("product_g_L", raw, 1, 24.0, expected=3.0)
    assert "better than expected" not in plain


def test_with_enough_batches_the_firing_share_itself_switches_a_rule_off():
    from forecaster.anomaly.rule_profile import switch_off

    assert not switch_off(1, 6, 0.05) and switch_off(2, 6, 0.05)  # few batches: significance
    assert switch_off(2, 20, 0.05) and not switch_off(1, 20, 0.05)
    assert switch_off(6, 100, 0.05) and not switch_off(5, 100, 0.05)


def test_cho_rules_through_the_resolved_parts_are_the_rules_as_first_written():
    cfg = RulesConfig()
    rv = RuleVariables.resolve()  # the CHO preset: every part is its own column
    for rows in (make_batch("A", 96, 3), make_batch("B", 96, 4, do_fault_h=40.0)):
        old, new = (
            _names(evaluate_rules(rows, cfg)),
            _names(evaluate_rules(rows, cfg, variables=rv)),
        )
        assert old.keys() == new.keys()
        for k in old:
            np.testing.assert_array_equal(old[k].flag, new[k].flag)
            assert old[k].threshold == new[k].threshold and old[k].variable == new[k].variable
