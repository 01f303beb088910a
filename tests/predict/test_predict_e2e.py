"""End to end: the command line on complete and running batches, its outputs, the API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.serve.predict import main, predict_table
from tests.predict.conftest import half_finished


@pytest.fixture(scope="module")
def two_batches(new_table):
    """B0000 complete (8 days), B0001 cut at 3.5 days (still running)."""
    t = new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001"])]
    return half_finished(t, "B0001", 84.0)


@pytest.fixture(scope="module")
def cli_out(run_dir, two_batches, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "new.csv"
    two_batches.to_csv(path, index=False)
    code = main(
        ["--run", str(run_dir), "--input", str(path), "--out", str(folder / "out"), "--top_k", "3"]
    )
    return code, folder / "out"


def test_cli_predicts_complete_and_running_batch(cli_out, loaded_run):
    code, out = cli_out
    assert code == 0
    pred = pd.read_csv(out / "predictions.csv", dtype={"batch_id": str}).set_index("batch_id")
    assert list(pred.index) == ["B0000", "B0001"]
    assert pred.loc["B0000", "last_time_h"] == 192.0 and pred.loc["B0001", "last_time_h"] == 84.0
    assert pred.loc["B0001", "n_rows"] == 85
    assert (pred["harvest_titer_p10_mg_L"] <= pred["harvest_titer_mg_L"]).all()
    assert (pred["harvest_titer_mg_L"] <= pred["harvest_titer_p90_mg_L"]).all()
    assert (pred["feed_next_mL_h"] >= 0).all()
    traj = pd.read_csv(out / "trajectories.csv", dtype={"batch_id": str})
    # days 1 to the harvest day: fitted up to the last row, forecast after it; a finished
    # batch (B0000, 8 days) gets its fitted curve, not an empty table
    ahead = {b: loaded_run.model.remaining_days(t) for b, t in (("B0000", 192.0), ("B0001", 84.0))}
    harvest_day = loaded_run.model.harvest_day
    assert harvest_day == 8 and ahead["B0000"].size == 0
    assert ahead["B0001"].tolist() == list(range(4, harvest_day + 1))
    for b, days in ahead.items():
        mine = traj[traj.batch_id == b]
        assert mine["day"].tolist() == list(range(1, harvest_day + 1))
        assert mine.loc[~mine["fitted"], "day"].tolist() == days.tolist()
        # one number: the trajectory ends at the harvest forecast
        assert mine["titer_mg_L"].iloc[-1] == pytest.approx(
            pred.loc[b, "harvest_titer_mg_L"], rel=1e-5
        )
    assert list(traj.columns) == [
        "batch_id",
        "day",
        "titer_p10_mg_L",
        "titer_mg_L",
        "titer_p90_mg_L",
        "fitted",
    ]
    assert (traj["titer_p10_mg_L"] <= traj["titer_p90_mg_L"]).all()


def test_cli_alarms_attributions_dashboards_report(cli_out):
    _, out = cli_out
    pred = pd.read_csv(out / "predictions.csv", dtype={"batch_id": str}).set_index("batch_id")
    alarms = pd.read_csv(out / "alarms.csv", dtype={"batch_id": str})
    for col in (
        "batch_id",
        "incident_id",
        "detector",
        "rule",
        "start_h",
        "end_h",
        "score",
        "top_variables",
        "reason",
    ):
        assert col in alarms.columns
    # the running batch has DO sensor spikes at 75-80 h (faults injected by the simulator);
    # the complete one ends in a DO excursion (191-192 h) that never comes back: no spike,
    # but the DO CUSUM alarms
    spike = alarms[(alarms.batch_id == "B0001") & (alarms.rule == "spike_do_pct")]
    assert len(spike) >= 1 and 75 <= spike.start_h.min() <= 81
    end = alarms[alarms.batch_id == "B0000"]
    assert "spike_do_pct" not in set(end.rule) and "do_shift" in set(end.rule)
    assert alarms.reason.str.len().min() > 10
    assert (
        alarms.groupby("batch_id").size().reindex(pred.index, fill_value=0).tolist()
        == pred.n_alarms.tolist()
    )
    incidents = alarms.groupby("batch_id")["incident_id"].nunique()
    assert incidents.reindex(pred.index, fill_value=0).tolist() == pred.n_incidents.tolist()
    assert (pred.n_incidents <= pred.n_alarms).all()
    attr = pd.read_csv(out / "attributions.csv", dtype={"batch_id": str})
    for _, g in attr.groupby("batch_id"):
        assert g["rank"].tolist() == [1, 2, 3]
        assert (np.diff(g["share"]) <= 1e-12).all() and g["share"].between(0, 1).all()
    assert set(attr.batch_id) == {"B0000", "B0001"}
    for b in ("B0000", "B0001"):
        png = out / "dashboards" / f"{b}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    report = (out / "report.md").read_text()
    for link in (
        "predictions.csv",
        "alarms.csv",
        "attributions.csv",
        "trajectories.csv",
        "dashboards/B0001.png",
    ):
        assert f"({link})" in report
    n_inc = alarms[["batch_id", "incident_id"]].drop_duplicates().shape[0]
    assert f"alarms: {len(alarms)} events in {n_inc} incidents" in report
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.tmp")]


def test_api_equals_model_predict(loaded_run, two_batches):
    """Without a chosen forecast the API gives the network's own forecasts."""
    import dataclasses

    plain = dataclasses.replace(loaded_run, choice=None)
    res = predict_table(plain, two_batches, attributions=False, alarms=False)
    groups = [g for _, g in two_batches.groupby(schema.BATCH_ID)]
    ref = loaded_run.model.predict(groups).set_index(schema.BATCH_ID)
    got = res.predictions.set_index(schema.BATCH_ID)
    np.testing.assert_allclose(got["feed_next_mL_h"], ref["feed_next_mL_h"], rtol=1e-6)
    np.testing.assert_allclose(
        got["harvest_titer_mg_L"], ref["harvest_titer_mg_L"].clip(lower=0), rtol=1e-6
    )
    assert res.alarms.empty and res.attributions.empty


def test_running_batch_gets_the_chosen_forecast_finished_one_the_networks(loaded_run, two_batches):
    """forecast/chosen.json is served on a running batch: the ladder's choice at its origin
    day, with the choice's conformal 80 % interval; the trajectory ends at it. A finished
    batch keeps the network's forecast of its harvest assay."""
    from forecaster.models.ladder.protocol import upto

    choice = loaded_run.choice
    assert choice is not None and choice.chosen.weights  # the tiny run wrote chosen.json
    res = predict_table(loaded_run, two_batches, attributions=False, alarms=False)
    got = res.predictions.set_index(schema.BATCH_ID)
    groups = {b: g.sort_values(schema.TIME) for b, g in two_batches.groupby(schema.BATCH_ID)}
    ref = loaded_run.model.predict(list(groups.values())).set_index(schema.BATCH_ID)
    assert got.loc["B0000", "harvest_titer_mg_L"] == pytest.approx(
        ref.loc["B0000", "harvest_titer_mg_L"], rel=1e-6
    )
    running = groups["B0001"]
    seq = np.asarray(loaded_run.model.step_outputs([running])[0]["harvest"][-1])[None]
    given = {"sequence": np.sort(choice.pick.take(seq), axis=1)}
    want = choice.chosen.predict([upto(running, 84.0)], given=given, level=0.8)[0]
    np.testing.assert_allclose(
        got.loc["B0001", ["harvest_titer_p10_mg_L", "harvest_titer_mg_L", "harvest_titer_p90_mg_L"]]
        .to_numpy(dtype=float), want, rtol=1e-6
    )  # fmt: skip
    last = res.trajectories[res.trajectories[schema.BATCH_ID] == "B0001"].iloc[-1]
    assert last["titer_mg_L"] == pytest.approx(want[1], rel=1e-6)


def test_no_pictures_no_attributions_and_parquet(run_dir, two_batches, tmp_path):
    path = tmp_path / "new.parquet"
    two_batches.to_parquet(path, index=False)
    out = tmp_path / "out"
    assert (
        main(
            [
                "--run",
                str(run_dir),
                "--input",
                str(path),
                "--out",
                str(out),
                "--no_pictures",
                "--no_attributions",
            ]
        )
        == 0
    )
    assert not (out / "dashboards").exists()
    assert pd.read_csv(out / "attributions.csv").empty
    assert len(pd.read_csv(out / "predictions.csv")) == 2


def test_a_batch_past_its_own_planned_harvest_counts_as_finished(loaded_run, two_batches):
    """planned_harvest_h (a planned-recipe column) sets each batch's own harvest: a batch
    whose rows reach it is finished and keeps the network's forecast of its harvest."""
    choice = loaded_run.choice
    running = two_batches[two_batches[schema.BATCH_ID] == "B0001"].sort_values(schema.TIME)
    early = running.assign(planned_harvest_h=float(running[schema.TIME].iloc[-1]))
    assert choice.finished(84.0, choice.planned_harvest(early))
    assert not choice.finished(
        84.0, choice.planned_harvest(running.drop(columns="planned_harvest_h", errors="ignore"))
    )
    assert choice.label(84.0, choice.planned_harvest(early)) == "sequence (finished batch)"
    assert "day-3 choice" in choice.label(84.0)


def test_a_chosen_forecast_without_any_interval_borrows_the_networks_band(loaded_run):
    """A rung without a spread and no conformal interval at that day would serve a
    zero-width interval: the network's band (relative to its median) is used instead."""
    from forecaster.models.ladder.chosen import ChosenForecast
    from forecaster.serve.chosen import ServedChoice

    class FlatRF:
        def predict(self, prefixes):
            return np.full((len(prefixes), 3), 500.0)

    chosen = ChosenForecast("titer_mg_L", {"3": {"rf": 1.0}}, planned_end_h=192.0)
    served = ServedChoice(chosen, loaded_run.model, rf=FlatRF())
    rows = [pd.DataFrame({schema.TIME: [0.0, 80.0], "titer_mg_L": [np.nan, 100.0]})]
    seq = np.zeros((1, len(loaded_run.model.net.quantiles)))
    lo, mid, hi = served.pick
    seq[0, lo], seq[0, mid], seq[0, hi] = 800.0, 1000.0, 1300.0
    np.testing.assert_allclose(served.harvest(rows, seq), [[400.0, 500.0, 650.0]])
