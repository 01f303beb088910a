"""The forecaster ladder: every rung scored, the choice never worse than the best naive
rung out of sample, metrics keys, determinism, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.models.ladder import CHEAP_RUNGS, NAIVE_RUNGS
from forecaster.pipeline.ladder import fit_ladder, run_ladder
from forecaster.pipeline.ladder_select import Forecasts, choose

DAYS = (2, 3, 5)


@pytest.fixture(scope="module")
def ladder(split):
    return fit_ladder(*split, origin_days=DAYS, k=4, seed=0)


def test_chosen_is_never_worse_than_the_best_naive_rung_out_of_sample(ladder):
    for d, c in ladder.choices.items():
        ids = c.oos.ids
        # the same batches, the same out-of-fold forecasts
        naive = min(ladder.oos[n][d].on(ids).mape() for n in NAIVE_RUNGS)
        assert c.oos.mape() <= naive + 1e-12
        sel = ladder.metrics["chosen"]["selection_by_day"][d]
        assert sel["mape"] <= sel["best_naive_mape"] + 1e-12


def test_every_rung_and_the_choice_report_the_same_keys(ladder):
    m = ladder.metrics
    days = {str(d) for d in DAYS}
    for name in [*CHEAP_RUNGS, "chosen"]:
        block = m[name]
        assert set(block["harvest_mape_by_day"]) == days
        assert set(block["harvest_mape_cv_by_day"]) == days
        for d in days:
            cv = block["harvest_mape_cv_by_day"][d]
            assert {"mean", "sd", "n_batches", "n_folds"} <= set(cv)
        for key in ("coverage", "width_pct"):
            assert set(block[key]) == {"80", "90", "95"}
            assert all(set(v) == days for v in block[key].values())
        assert set(block["n_batches"]["test"]) == days
    assert m["naive_mean"]["harvest_mape_cv_by_day"]["3"]["n_batches"] == 14
    assert m["naive_mean"]["harvest_mape_cv_by_day"]["3"]["n_folds"] == 4
    assert set(m["chosen"]["rung_by_day"]) == days
    assert m["ladder"]["n_batches"] == {"cv": 14, "val": 3, "test": 6}
    # 14 out-of-fold residuals: 80 and 90 % intervals exist, 95 % cannot (needs 19)
    assert any("95%" in n for n in m["chosen"]["conformal_notes"])
    assert np.isnan(m["chosen"]["coverage"]["95"]["3"])
    assert 0.0 <= m["chosen"]["coverage"]["80"]["3"] <= 1.0


def test_naive_mean_cv_error_matches_a_hand_computation(split, ladder):
    # fold by fold: forecast = mean final titer of the other folds' batches
    from forecaster.data import targets
    from forecaster.data.folds import kfold_batches

    train, val, _ = split
    pool = {b: g for b, g in (*train.groupby(schema.BATCH_ID), *val.groupby(schema.BATCH_ID))}
    final = {b: targets.harvest_titer(g.sort_values(schema.TIME)) for b, g in pool.items()}
    errs = []
    for tr, va in kfold_batches(sorted(pool), 4, seed=0):
        mean = np.mean([final[b] for b in tr])
        errs.append(np.mean([abs(mean - final[b]) / final[b] for b in va]))
    got = ladder.metrics["naive_mean"]["harvest_mape_cv_by_day"]["3"]
    assert got["mean"] == pytest.approx(np.mean(errs))
    assert got["sd"] == pytest.approx(np.std(errs, ddof=1))


def test_same_seed_same_metrics(split, ladder):
    again = run_ladder(*split, origin_days=DAYS, k=4, seed=0)
    assert json.dumps(again, sort_keys=True) == json.dumps(ladder.metrics, sort_keys=True)


def test_too_small_a_data_set_is_one_line_naming_the_minimum(split):
    train, val, test = split
    ids = sorted(train[schema.BATCH_ID].unique())[:3]
    with pytest.raises(ConfigError) as e:
        run_ladder(train[train[schema.BATCH_ID].isin(ids)], val.iloc[:0], test, k=5)
    assert "at least 5 batches" in str(e.value) and "\n" not in str(e.value)


def test_rf_rung_is_scored_on_the_validation_batches(split):
    from forecaster.models.baseline import RFBaseline, RFConfig, default_variables

    train, val, test = split
    cfg = RFConfig(n_estimators=[10], min_samples_leaf=[4], n_jobs=1, stride_h=24.0)
    rf = RFBaseline(cfg, default_variables(train), seed=0).fit(train, val)
    m = run_ladder(train, val, test, rf=rf, origin_days=(3,), k=4)
    assert m["rf"]["harvest_mape_cv_by_day"]["3"]["on"] == "val"
    assert m["rf"]["harvest_mape_cv_by_day"]["3"]["n_batches"] == 3
    assert np.isfinite(m["rf"]["harvest_mape_by_day"]["3"])
    sel = m["chosen"]["selection_by_day"]["3"]
    assert "val" in sel and sel["mape"] <= sel["best_naive_mape"] + 1e-12


# ------------------------------------------------------------------ choice table
def fc(ids, y, p50, fold=0):
    p50 = np.asarray(p50, dtype=float)
    return Forecasts(
        np.asarray(ids, dtype=object),
        np.asarray(y, dtype=float),
        np.stack([p50 * 0.9, p50, p50 * 1.1], 1),
        np.full(len(ids), fold),
    )


IDS = ["a", "b", "c", "d", "e", "f", "g"]
Y = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0]
VAL = IDS[2:]
NAIVE = ("naive_mean", "naive_ratio")


@pytest.mark.parametrize(
    ("cheap_p50", "exp_p50", "want", "on"),
    [
        # naive exact: nothing beats it
        ({"naive_mean": Y, "naive_ratio": [90, 250, 250, 300, 450, 650, 800],
          "ridge": [110, 190, 330, 380, 520, 580, 690]}, None, "naive_mean", "cv"),
        # ridge best, naive off: ridge or its blend with the best naive
        ({"naive_mean": [400] * 7, "naive_ratio": [130, 150, 390, 300, 650, 450, 900],
          "ridge": [101, 199, 303, 398, 502, 601, 698]}, None, "ridge", "cv"),
        # RF exact on the 5 validation batches, beats the cv choice and naive there
        ({"naive_mean": [400] * 7, "naive_ratio": [130, 150, 390, 300, 650, 450, 900],
          "ridge": [120, 170, 330, 360, 560, 540, 770]}, Y[2:], "rf", "val"),
        # RF worse than naive on val: stays with the cv choice
        ({"naive_mean": [400] * 7, "naive_ratio": [130, 150, 300, 400, 500, 600, 700],
          "ridge": [120, 170, 330, 360, 560, 540, 770]}, [200, 600, 900, 300, 1400], None, "cv"),
    ],
)  # fmt: skip
def test_choice_table(cheap_p50, exp_p50, want, on):
    cheap = {n: fc(IDS, Y, p) for n, p in cheap_p50.items()}
    exp = {} if exp_p50 is None else {"rf": fc(VAL, Y[2:], exp_p50, fold=-1)}
    c = choose(cheap, exp, NAIVE, VAL)
    assert c.on == on
    if want is not None:
        assert c.rung == want or (want in c.rung and c.rung.startswith("blend"))
    assert c.detail["mape"] <= c.detail["best_naive_mape"] + 1e-12
    assert abs(sum(c.weights.values()) - 1) < 1e-9


def test_an_expensive_rung_is_not_chosen_on_fewer_than_five_validation_batches():
    cheap = {
        "naive_mean": fc(IDS, Y, [400] * 7),
        "naive_ratio": fc(IDS, Y, [130, 150, 390, 300, 650, 450, 900]),
        "ridge": fc(IDS, Y, [120, 170, 330, 360, 560, 540, 770]),
    }
    exact_rf = {"rf": fc(IDS[3:], Y[3:], Y[3:], fold=-1)}  # exact, but on 4 batches
    c = choose(cheap, exact_rf, NAIVE, IDS[3:])
    assert c.on == "cv" and "rf" not in c.rung
    assert "fewer than 5" in c.detail["val"]["note"]
