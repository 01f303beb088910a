"""``forecaster optimize`` writes its files; bad input is one line and exit code 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from forecaster.__main__ import main

FAST = ["--n_boot", "10", "--n_trials", "15", "--feed_plans", "false"]


@pytest.fixture
def batches_csv(tiny_sim, tmp_path):
    path = tmp_path / "batches.csv"
    tiny_sim.table.to_csv(path, index=False)
    return path


def _run(argv, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(["optimize", *argv])
    return e.value.code, capsys.readouterr().err


def test_optimize_writes_every_output(batches_csv, tmp_path, capsys):
    out = tmp_path / "opt"
    code, err = _run(["--input", str(batches_csv), "--out", str(out), "--n_next", "2", *FAST],
                     capsys)  # fmt: skip
    assert code == 0, err
    for name in ["key_factors.csv", "recipe.csv", "optimize.json", "key_factors.png",
                 "recipe.png", "report.md", "effects.csv", "next_batches.csv"]:  # fmt: skip
        assert (out / name).is_file(), name
    kf = pd.read_csv(out / "key_factors.csv")
    assert list(kf.columns[:8]) == ["factor", "label", "unit", "method", "importance", "ci_lo",
                                    "ci_hi", "rank"]  # fmt: skip
    assert set(kf["method"]) == {"permutation", "pls_vip"}
    recipe = pd.read_csv(out / "recipe.csv")
    assert list(recipe.columns) == ["factor", "label", "unit", "current", "recommended",
                                    "lower_bound", "upper_bound"]  # fmt: skip
    assert (recipe["recommended"] >= recipe["lower_bound"] - 1e-9).all()
    assert (recipe["recommended"] <= recipe["upper_bound"] + 1e-9).all()
    s = json.loads((out / "optimize.json").read_text())
    assert s["n_batches"] == 12 and s["product"] == "Titer" and s["product_unit"] == "mg/L"
    assert s["product_column"] == "titer_mg_L"
    assert set(s["predicted_titer"]) == {"current", "recommended"}
    assert "Key factors" in (out / "report.md").read_text()
    # a second run into its own folder needs no --overwrite
    code, err = _run(["--input", str(batches_csv), "--out", str(out), *FAST], capsys)
    assert code == 0, err


def test_bounds_file_limits_the_recipe(batches_csv, tmp_path, capsys):
    bounds = tmp_path / "bounds.csv"
    bounds.write_text(
        "factor,lower,upper\nT setpoint after change,33,33.5\ndo_setpoint_pct,35,40\n"
    )
    out = tmp_path / "opt"
    code, err = _run(["--input", str(batches_csv), "--out", str(out), "--bounds", str(bounds),
                      *FAST], capsys)  # fmt: skip
    assert code == 0, err
    r = pd.read_csv(out / "recipe.csv").set_index("factor")
    assert list(r.index) == ["temperature_setpoint_C_end", "do_setpoint_pct"]
    assert 33.0 <= r.loc["temperature_setpoint_C_end", "recommended"] <= 33.5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "missing.csv"),
        (lambda p: (p / "bad.csv").write_text("a,b\n1,2\n") and p / "bad.csv", "batch_id"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    code, err = _run(["--input", str(make(tmp_path)), "--out", str(tmp_path / "o"), *FAST], capsys)
    assert code == 2
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unknown_factor_in_bounds_is_one_line(batches_csv, tmp_path, capsys):
    bounds = tmp_path / "bounds.yaml"
    bounds.write_text("agitation: [1, 2]\n")
    code, err = _run(["--input", str(batches_csv), "--out", str(tmp_path / "o"), "--bounds",
                      str(bounds), *FAST], capsys)  # fmt: skip
    assert code == 2 and "unknown factor 'agitation'" in err and "bounds.yaml" in err


def test_foreign_folder_is_refused(batches_csv, tmp_path, capsys):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, err = _run(["--input", str(batches_csv), "--out", str(out), *FAST], capsys)
    assert code == 2 and "--overwrite" in err
    assert (out / "notes.txt").read_text() == "mine"


def test_running_batches_get_feed_plans(tiny_sim, tmp_path, capsys, monkeypatch):
    import forecaster.optimize.feed_plan as feed_plan

    seen = {}

    def fake_plan_feeds(table, process=None, **_):  # the planner's own tests cover planning
        seen["batches"] = sorted(table["batch_id"].astype(str).unique())
        return pd.DataFrame({"batch_id": seen["batches"], "time_h": 72.0, "feed_rate_mL_h": 1.0})

    monkeypatch.setattr(feed_plan, "plan_feeds", fake_plan_feeds)
    t = tiny_sim.table
    running = t[(t["batch_id"] == "B0000") & (t["time_h"] <= 72)].assign(batch_id="R1")
    path = tmp_path / "mixed.csv"
    pd.concat([t, running]).to_csv(path, index=False)
    out = tmp_path / "opt"
    argv = ["--input", str(path), "--out", str(out), "--n_boot", "10", "--n_trials", "10"]
    code, err = _run(argv, capsys)
    assert code == 0, err
    assert seen["batches"] == ["R1"]
    assert pd.read_csv(out / "feed_plans.csv")["batch_id"].tolist() == ["R1"]
    s = json.loads((out / "optimize.json").read_text())
    assert s["n_running"] == 1 and s["n_batches"] == 12


def test_media_lot_column_becomes_start_factors(tiny_sim, tmp_path, capsys):
    t = tiny_sim.table.copy()
    lots = {b: ("L1" if i % 2 else "L2") for i, b in enumerate(sorted(t["batch_id"].unique()))}
    t["Media lot"] = t["batch_id"].map(lots)
    path = tmp_path / "lots.csv"
    t.to_csv(path, index=False)
    out = tmp_path / "opt"
    code, err = _run(["--input", str(path), "--out", str(out), "--lot_columns", "Media lot", *FAST],
                     capsys)  # fmt: skip
    assert code == 0, err
    kf = pd.read_csv(out / "key_factors.csv")
    assert {"Media lot=L1", "Media lot=L2"} <= set(kf["factor"])
    assert set(kf.loc[kf["factor"].str.startswith("Media lot"), "kind"]) == {"start"}
    code, err = _run(["--input", str(path), "--out", str(out), "--lot_columns", "Lot", *FAST],
                     capsys)  # fmt: skip
    assert code == 2 and "Lot" in err
