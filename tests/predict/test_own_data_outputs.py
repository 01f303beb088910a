"""Outputs in the user's language: a tiny run trained on the own-data example (user names,
g/L titer, L/day feed, degF, timestamps) predicts in those names, units and dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.predict.conftest import FAST_ARGS


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """(run folder, new-batch file, output folder of predict) for the own-data example."""
    from examples.make_own_data import main as make
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run
    from forecaster.serve.predict import main as predict

    tmp = tmp_path_factory.mktemp("own")
    data = tmp / "own.csv"
    make(["--out", str(data), "--n_batches", "12", "--n_new", "2", "--n_days", "5", "--seed", "5"])
    cfg, text = parse_config(["--config", "configs/examples/own_data.yaml", "--config", "configs/debug.yaml",
                              *FAST_ARGS, "--data.path", str(data), "--output_dir", str(tmp),
                              "--run_name", "own", "--model.n_days", "5"])  # fmt: skip
    run_dir, _ = run(cfg, text, log=lambda *_: None)
    new, out = data.with_name("own_new.csv"), tmp / "out"
    # one more batch with an obvious fault: the temperature 10 degF above its set point
    table = pd.read_csv(new)
    fault = table[table.Run == table.Run.iloc[0]].assign(Run="NEW-HOT")
    late = np.arange(len(fault)) > len(fault) // 2
    fault.loc[late, "Temp (degF)"] = fault.loc[late, "Temp SP (degF)"] + 10.0
    pd.concat([table, fault]).to_csv(new, index=False)
    assert predict(["--run", str(run_dir), "--input", str(new), "--out", str(out)]) == 0
    return run_dir, new, out


@pytest.fixture(scope="module")
def canonical(own):
    """The same prediction in canonical names and units (what ``predict_table`` returns)."""
    from forecaster.serve.predict import load_run, predict_table

    run_dir, new, _ = own
    return predict_table(load_run(run_dir), new)


def test_run_folder_gives_its_process_and_column_map(own):
    from forecaster.serve.predict import load_run

    run = load_run(own[0])
    assert run.process.name == "cho_fedbatch" and run.process.product == "titer_mg_L"
    assert run.column_map.units["titer_mg_L"] == "g/L" and run.column_map.time_unit == "timestamp"


def test_predictions_are_in_the_users_names_units_and_dates(own, canonical):
    pred = pd.read_csv(own[2] / "predictions.csv")
    cols = list(pred.columns)
    assert cols[:4] == ["batch_id", "last_time_h", "last_time", "n_rows"]
    for c in (
        "feed_next_L_day",
        "harvest_Titer_g_L",
        "harvest_Titer_p10_g_L",
        "harvest_Titer_p90_g_L",
    ):
        assert c in cols
    assert not [c for c in cols if "mg_L" in c or "mL_h" in c]
    ref = canonical.predictions.set_index("batch_id").loc[pred.batch_id]
    # canonical value x conversion = output value (mg/L -> g/L, mL/h -> L/day)
    np.testing.assert_allclose(pred.harvest_Titer_g_L, ref.harvest_titer_mg_L / 1000.0, rtol=1e-9)
    np.testing.assert_allclose(
        pred.harvest_Titer_p90_g_L, ref.harvest_titer_p90_mg_L / 1000.0, rtol=1e-9
    )
    np.testing.assert_allclose(pred.feed_next_L_day, ref.feed_next_mL_h * 24 / 1000.0, rtol=1e-9)
    # the last time is the batch's last timestamp, written as the file wrote it
    raw = pd.read_csv(own[1])
    last = raw.groupby("Run")["Timestamp"].agg(lambda s: s.iloc[-1])
    assert list(pred.last_time) == list(last.loc[pred.batch_id])
    for top in pred.top_variables.dropna():
        assert all(v in raw.columns for v in top.split(";"))


def test_trajectories_and_attributions_use_the_product_column(own, canonical):
    traj = pd.read_csv(own[2] / "trajectories.csv")
    assert list(traj.columns) == ["batch_id", "day", "time", "Titer_p10_g_L", "Titer_g_L",
                                  "Titer_p90_g_L", "fitted"]  # fmt: skip
    np.testing.assert_allclose(
        traj.Titer_g_L, canonical.trajectories.titer_mg_L / 1000.0, rtol=1e-5
    )
    raw = pd.read_csv(own[1])
    start = pd.to_datetime(raw.groupby("Run")["Timestamp"].first())
    b = traj.batch_id.iloc[0]
    expect = (start[b] + pd.Timedelta(days=int(traj.day.iloc[0]))).strftime("%Y-%m-%d %H:%M")
    assert traj.time.iloc[0] == expect
    attr = pd.read_csv(own[2] / "attributions.csv")
    assert set(attr.variable) <= set(raw.columns)


def test_alarms_name_the_users_columns_and_dates(own, canonical):
    alarms = pd.read_csv(own[2] / "alarms.csv")
    assert (alarms.batch_id == "NEW-HOT").any()
    for c in ("start_time", "raised_time", "end_time"):
        assert c in alarms.columns
    raw = pd.read_csv(own[1])
    for top in alarms.top_variables.dropna():
        assert all(item.rpartition(":")[0] in raw.columns for item in top.split(";"))
    score = alarms[alarms.detector != "rules"]
    assert score.reason.str.contains(r"^Temp rose to [\d.]+ F at \d+ h \(20", regex=True).any()
    for reason in score.reason:
        assert "mg/L" not in reason and " C " not in reason
    report = (own[2] / "report.md").read_text()
    assert "Titer (g/L)" in report and "L/day" in report


def test_chunked_reading_keeps_every_batchs_dates(own):
    from forecaster.serve.outputs import user_tables
    from forecaster.serve.predict import join_predictions, load_run, predict_file_in_chunks

    run = load_run(own[0])
    parts = list(predict_file_in_chunks(run, own[1], batches_per_chunk=1, attributions=False))
    assert len(parts) > 1
    pred = user_tables(join_predictions(parts))["predictions"]
    written = pd.read_csv(own[2] / "predictions.csv")
    assert list(pred.last_time) == list(written.last_time)
    np.testing.assert_allclose(pred.harvest_Titer_g_L, written.harvest_Titer_g_L, rtol=1e-6)
