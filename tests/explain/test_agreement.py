"""Spearman and top-k precision against a ground truth, table-driven."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from forecaster.explain.agreement import (
    max_spearman,
    score_methods,
    spearman_vs_truth,
    top_k_precision,
)

TRUTH = pd.Series(
    {"glucose_g_L": 3.0, "vcd_1e6_cells_mL": 2.0, "time_h": 1.0, "ph": 0.0, "do_pct": 0.0}
)
TRUE_SET = {"glucose_g_L", "vcd_1e6_cells_mL", "time_h"}


@pytest.mark.parametrize(
    "importance, spearman, precision",
    [
        (
            {
                "glucose_g_L": 0.5,
                "vcd_1e6_cells_mL": 0.3,
                "time_h": 0.15,
                "ph": 0.05,
                "do_pct": 0.0,
            },
            0.97,
            1.0,
        ),
        (
            {
                "glucose_g_L": 0.0,
                "vcd_1e6_cells_mL": 0.05,
                "time_h": 0.15,
                "ph": 0.3,
                "do_pct": 0.5,
            },
            -0.97,
            1 / 3,
        ),
        ({"glucose_g_L": 0.6, "ph": 0.4}, 0.35, 1 / 3),  # unscored variables count as 0
    ],
)
def test_scores(importance, spearman, precision):
    imp = pd.Series(importance)
    assert spearman_vs_truth(imp, TRUTH) == pytest.approx(spearman, abs=0.01)
    assert top_k_precision(imp, TRUE_SET, TRUTH.index, k=3) == pytest.approx(precision)


def test_precision_denominator_is_the_number_of_true_drivers_when_fewer_than_k():
    imp = pd.Series({"glucose_g_L": 0.9, "ph": 0.1})
    assert top_k_precision(imp, {"glucose_g_L"}, TRUTH.index, k=3) == 1.0
    assert math.isnan(top_k_precision(imp, set(), TRUTH.index))


def test_score_methods_keys_and_constant_importance():
    out = score_methods({"ig": pd.Series({"ph": 0.0}), "rf": pd.Series(TRUTH / 6)}, TRUTH, TRUE_SET)
    assert out["ig"]["spearman_vs_truth"] is None  # constant importance: undefined, not 0
    assert out["rf"]["spearman_vs_truth"] == pytest.approx(1.0)
    assert out["rf"]["top3_precision"] == 1.0


def test_spearman_over_ranked_drivers_and_the_tie_cap():
    # 4 graded drivers and 16 variables tied at 0, like the feed policy's truth
    truth = pd.Series([0.0] * 16 + [0.01, 0.06, 0.36, 0.57], index=[f"v{i}" for i in range(20)])
    perfect = pd.Series(range(1, 21), index=truth.index, dtype=float)
    assert max_spearman(truth) == pytest.approx(0.699, abs=1e-3)  # ties cap the full-list score
    out = score_methods({"m": perfect}, truth, set(truth.index[16:]), ranked=list(truth.index[16:]))
    assert out["m"]["spearman_vs_truth"] == pytest.approx(1.0)
    assert out["m"]["spearman_all_variables"] == pytest.approx(0.699, abs=1e-3)
    swapped = perfect.copy()
    swapped[["v18", "v19"]] = swapped[["v19", "v18"]].to_numpy()
    out = score_methods({"m": swapped}, truth, set(truth.index[16:]), ranked=list(truth.index[16:]))
    assert out["m"]["spearman_vs_truth"] == pytest.approx(0.8)
