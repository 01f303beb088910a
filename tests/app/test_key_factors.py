"""The key-factors page on output files written here in the format of ``forecaster optimize``."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

from forecaster.data.errors import DataError
from forecaster.serve.app.optimize_charts import feed_plan_figure, importance_figure
from forecaster.serve.app.optimize_files import find_outputs, load_outputs, titer_rows
from tests.app.conftest import texts

FACTORS = [("temperature_setpoint_C_end", "Temp after shift", "degC"),
           ("vcd_1e6_cells_mL_initial", "Seeding density", "1e6 cells/mL"),
           ("ph_setpoint", "pH SP", "pH")]  # fmt: skip


def write_outputs(folder, plans: bool = True) -> None:
    """A complete output folder: 3 factors x 2 methods, a recipe, 2 running batches."""
    folder.mkdir(parents=True)
    rows = []
    for method, base in (("permutation", 0.3), ("pls_vip", 1.6)):
        for i, (f, label, unit) in enumerate(FACTORS):
            imp = base / (i + 1)
            rows.append([f, label, unit, method, imp, imp * 0.5, imp * 1.5, i + 1, "recipe", True])
    pd.DataFrame(rows, columns=["factor", "label", "unit", "method", "importance", "ci_lo", "ci_hi",
                                "rank", "kind", "distinct"]).to_csv(folder / "key_factors.csv", index=False)  # fmt: skip
    pd.DataFrame([[f, label, unit, 1.0, 2.0, 0.5, 2.5] for f, label, unit in FACTORS],
                 columns=["factor", "label", "unit", "current", "recommended", "lower_bound",
                          "upper_bound"]).to_csv(folder / "recipe.csv", index=False)  # fmt: skip
    if plans:
        pd.DataFrame({"batch_id": ["R1"] * 3 + ["R2"] * 3, "time_h": [72.0, 96.0, 120.0] * 2,
                      "Feed (mL/h)": [2.0, 3.0, 4.0, 1.0, 1.5, 2.0],
                      "temperature_setpoint_C": 33.0, "glucose_target_g_L": 4.0,
                      "predicted_titer": [3100.0] * 3 + [2900.0] * 3,
                      "predicted_titer_default": [3000.0] * 3 + [2800.0] * 3}).to_csv(
            folder / "feed_plans.csv", index=False)  # fmt: skip
    summary = {"format_version": 1, "product": "Titer", "product_column": "Titer",
               "product_unit": "g/L", "n_batches": 40, "n_running": 2 if plans else 0,
               "methods": ["permutation", "pls_vip"], "model_r2_loo": 0.42,
               "predicted_titer": {"current": {"mean": 3.0, "lo80": 2.5, "hi80": 3.5},
                                   "recommended": {"mean": 3.6, "lo80": 3.0, "hi80": 4.2}},
               "top_factors": [f for f, _, _ in FACTORS], "dropped_factors": {},
               "feed_plans": "2 running batches planned" if plans else "no running batch"}  # fmt: skip
    (folder / "optimize.json").write_text(json.dumps(summary), encoding="utf-8")


@pytest.fixture
def results(tmp_path):
    write_outputs(tmp_path / "results" / "opt")
    return tmp_path / "results"


def test_outputs_are_found_read_and_drawn(results):
    assert find_outputs(results) == [results / "opt"]
    out = load_outputs(results / "opt")
    assert out.feed_column == "Feed (mL/h)"
    rows = titer_rows(out.summary)
    assert list(rows["recipe"]) == ["current", "recommended"]
    assert rows["gain_pct"].iloc[1] == pytest.approx(20.0)
    fig = importance_figure(out.key_factors)
    assert len(fig.data) == 2  # one bar trace per method
    assert fig.data[0].y[-1] == "Temp after shift (degC)"  # strongest on top
    assert list(fig.data[0].error_x.array) == pytest.approx([0.05, 0.075, 0.15])
    plan = feed_plan_figure(
        out.feed_plans[out.feed_plans["batch_id"] == "R1"], out.feed_column, "g/L"
    )
    assert [t.name for t in plan.data] == ["planned Feed (mL/h)", "titer with the plan (g/L)",
                                           "titer, recipe as usual (g/L)"]  # fmt: skip


def test_a_broken_output_folder_is_one_line(tmp_path):
    write_outputs(tmp_path / "o")
    pd.DataFrame({"factor": ["x"]}).to_csv(tmp_path / "o" / "recipe.csv", index=False)
    with pytest.raises(DataError, match=r"recipe.csv: missing columns label, unit"):
        load_outputs(tmp_path / "o")
    (tmp_path / "o" / "optimize.json").write_text('{"format_version": 9}')
    with pytest.raises(DataError, match="format_version 9"):
        load_outputs(tmp_path / "o")


def test_key_factors_page_shows_importances_recipe_and_feed_plans(app, app_dirs, results):
    at = app("views/key_factors.py", app_settings=replace(app_dirs, results=results))
    assert not at.exception
    shown = texts(at)
    assert "What drives harvest Titer" in shown and "Recommended recipe" in shown
    assert "**3 g/L** with the current recipe, **3.6 g/L** with the recommended one (+20 %" in shown
    recipe = next(d.value for d in at.dataframe if "recommended" in d.value.columns)
    assert list(recipe["label"]) == [label for _, label, _ in FACTORS]
    assert len(at.get("plotly_chart")) == 3  # importances, titer, feed plan
    at.selectbox(key="kf_batch").set_value("R2").run()
    assert not at.exception
    plan = at.dataframe[-1].value
    assert set(plan["batch_id"].astype(str)) == {"R2"}


def test_key_factors_page_without_outputs_or_with_a_broken_one(app, app_dirs, tmp_path):
    at = app("views/key_factors.py", app_settings=replace(app_dirs, results=tmp_path / "none"))
    assert not at.exception and "No output of `forecaster optimize`" in texts(at)
    write_outputs(tmp_path / "bad")
    (tmp_path / "bad" / "key_factors.csv").write_text("factor\nx\n")
    at = app("views/key_factors.py", app_settings=replace(app_dirs, results=tmp_path))
    assert not at.exception
    assert [e.value[:7] for e in at.error] == ["error: "] and "key_factors.csv" in at.error[0].value
