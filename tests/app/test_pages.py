"""Every page of the app on a tiny run folder: key texts present, never an exception."""

from __future__ import annotations

import json
import sys

import pytest

from forecaster.cli import error_line
from forecaster.data.errors import DataError
from forecaster.serve.app.settings import AppSettings
from forecaster.serve.predict import read_for_run
from forecaster.serve.run_folder import load_run
from tests.app.conftest import RUNNING, texts


def test_data_page_previews_and_validates_the_chosen_file(app, app_dirs):
    at = app()
    assert not at.exception
    shown = texts(at)
    assert "Validated for run `tiny`: 4 batches ready" in shown
    assert at.dataframe[0].value.columns[0] == "batch_id"  # the file as it is
    assert "Run folder" in at.sidebar.selectbox[0].label


@pytest.mark.parametrize(("name", "why"), [("broken.csv", "time_h"), ("empty.csv", "no data rows")])
def test_a_broken_or_empty_file_shows_the_command_lines_one_line(app, app_dirs, name, why):
    path = app_dirs.data_dir / name
    with pytest.raises(DataError) as err:
        read_for_run(load_run(app_dirs.runs / "tiny"), path)
    at = app(data_path=str(path))
    assert not at.exception
    errors = [e.value for e in at.error]  # the column-map assistant's, then the run's
    assert errors[-1] == f"error: {error_line(err.value)}"
    assert why in errors[-1] and all(e.startswith("error: ") and "\n" not in e for e in errors)


def test_an_upload_is_saved_in_the_data_folder_and_a_broken_one_is_one_line(app, app_dirs):
    at = app()
    at.file_uploader[0].upload("bad upload.csv", b"batch,time\nA,x\n", "text/csv")
    at.run()
    assert not at.exception
    assert (app_dirs.uploads / "bad_upload.csv").is_file()
    assert at.error and all(e.value.startswith("error: ") and "\n" not in e.value for e in at.error)
    assert "Traceback" not in texts(at)


def test_train_page_shows_every_models_metrics(app, app_dirs):
    at = app("views/train.py")
    assert not at.exception
    metrics = json.loads((app_dirs.runs / "tiny" / "metrics.json").read_text())
    frames = [d.value for d in at.dataframe]
    mape = next(f for f in frames if "day 3" in f.columns)
    models = [
        m for m, v in metrics["titer"].items() if isinstance(v, dict) and "harvest_mape_by_day" in v
    ]
    assert list(mape["model"]) == models
    assert any("feed R²" in f.columns for f in frames)
    assert any("detector" in f.columns for f in frames)
    shown = texts(at)
    for text in ("80 % interval coverage", "Anomaly detection", "Start a training run"):
        assert text in shown
    assert len(at.get("plotly_chart")) == 2


def test_batches_page_has_one_row_per_batch_with_status(app):
    at = app("views/batches.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 4
    status = dict(zip(table["batch_id"], table["status"]))
    assert status[RUNNING] == "running" and list(status.values()).count("finished") == 3
    at.multiselect(key="batches_status").set_value(["running"]).run()
    assert list(at.dataframe[0].value["batch_id"]) == [RUNNING]


def test_batch_page_draws_the_batch_with_units(app):
    at = app("views/batch.py", batch=RUNNING)
    assert not at.exception
    assert at.selectbox(key="batch_pick").value == RUNNING
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in fig["data"]}
    assert {
        "Glucose (g/L)",
        "DO setpoint (%)",
        "titer measured (mg/L)",
        "80 % band (mg/L)",
    } <= names
    assert "harvest titer forecast" in texts(at)


def test_compare_page_overlays_batches_on_the_envelope(app):
    at = app("views/compare.py")
    assert not at.exception
    at.selectbox(key="cmp_align").set_value("cumfeed").run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in fig["data"]]
    assert names[0].startswith("golden envelope") and "golden mean" in names
    assert "cumulative feed (mL)" in fig["layout"]["xaxis"]["title"]["text"]


def test_no_run_offers_a_demo_run_with_live_output(app, tmp_path, monkeypatch):
    from forecaster.serve.app import widgets

    fake = [sys.executable, "-c", "print('[1/6] data: simulating'); print('run folder: x/demo')"]
    monkeypatch.setattr(widgets, "train_command", lambda *a, **k: fake)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "quickstart.yaml").write_text("run_name: demo\n")
    settings = AppSettings(
        runs=tmp_path / "runs", data=tmp_path / "data", configs=tmp_path / "configs"
    )
    at = app(settings=settings)
    assert not at.exception
    assert "No trained run yet" in texts(at)
    at.button(key="demo_start").click().run()
    widgets._jobs()[str(settings.runs)].wait(30)
    at.run()
    assert not at.exception
    assert "Training finished" in texts(at)
