"""The app's plain parts: tables, paging, the training job, settings, charts."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from forecaster.serve.app import tables
from forecaster.serve.app.jobs import TrainJob, train_command
from forecaster.serve.app.settings import AppSettings

METRICS = {
    "feed": {"sequence": {"r2": 0.9, "rmse": 1.0}, "rf": {"r2": 0.8, "rmse": 2.0}},
    "titer": {
        "sequence": {"harvest_mape_by_day": {"3": 0.2, "10": None, "5": 0.1},
                     "pi80_coverage": 0.8, "pi80_coverage_by_day": {"3": 0.7}},
        "ridge": {"harvest_mape_by_day": {"3": 0.3}},
        "noise_floor_mape": 0.01,
    },
    "anomaly": {"rules": {"event_recall": 1.0, "precision": 0.5}, "bar_definitions": {"x": 1}},
}  # fmt: skip


def test_mape_table_has_every_model_and_origin_day_in_order():
    t = tables.mape_table(METRICS)
    assert list(t.columns) == ["model", "day 3", "day 5", "day 10"]
    assert t.set_index("model").loc["sequence"].tolist()[:2] == pytest.approx([20.0, 10.0])
    assert t.set_index("model").loc["ridge"].isna().tolist() == [False, True, True]


def test_report_tables_pick_only_the_models_that_report_the_metric():
    assert list(tables.feed_table(METRICS)["model"]) == ["sequence", "rf"]
    assert list(tables.coverage_table(METRICS)["model"]) == ["sequence"]
    assert list(tables.anomaly_table(METRICS)["detector"]) == ["rules"]
    assert tables.anomaly_table({}).empty


def _summary(n: int) -> pd.DataFrame:
    return pd.DataFrame({"batch_id": [f"B{i:04d}" for i in range(n)],
                         "status": ["running" if i % 4 == 0 else "finished" for i in range(n)],
                         "open_alarms": [i % 3 for i in range(n)],
                         "harvest_titer_mg_L": np.arange(n, dtype=float)})  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "first", "count"),
    [
        ({}, "B0000", 1000),
        ({"text": "b00"}, "B0000", 100),
        ({"status": ["running"]}, "B0000", 250),
        ({"with_alarms": True}, "B0001", 666),
        ({"sort_by": "harvest_titer_mg_L", "descending": True}, "B0999", 1000),
    ],
)
def test_filter_batches(kwargs, first, count):
    out = tables.filter_batches(_summary(1000), **kwargs)
    assert (out["batch_id"].iloc[0], len(out)) == (first, count)


@pytest.mark.parametrize(("page", "size", "first", "rows", "pages"),
                         [(1, 50, 0, 50, 20), (20, 50, 950, 50, 20), (99, 300, 900, 100, 4),
                          (0, 50, 0, 50, 20)])  # fmt: skip
def test_page_of_clamps_to_existing_pages(page, size, first, rows, pages):
    out, n = tables.page_of(_summary(1000), page, size)
    assert (out.index[0], len(out), n) == (first, rows, pages)


def test_training_job_streams_lines_progress_and_the_run_folder(tmp_path):
    code = ("import sys,time; print('[1/6] data'); sys.stdout.flush(); print('10%\\r20%', end='\\r');"
            "print('[4/6] anomaly'); print('run folder: ' + sys.argv[1] + '   (report: x)')")  # fmt: skip
    job = TrainJob.start([sys.executable, "-c", code, str(tmp_path / "r")])
    assert job.wait(30) == 0
    assert job.lines[:4] == ["[1/6] data", "10%", "20%", "[4/6] anomaly"]
    assert job.run_folder() == tmp_path / "r"
    assert job.progress == 1.0 and not job.running
    job.returncode, job.ended = None, None  # as if still running: the last stage line counts
    assert job.progress == pytest.approx(3 / 6)


def test_a_failing_training_job_keeps_its_exit_code():
    job = TrainJob.start([sys.executable, "-c", "import sys; print('error: bad key'); sys.exit(2)"])
    assert job.wait(30) == 2 and job.lines == ["error: bad key"]


def test_train_command_writes_into_the_runs_folder():
    cmd = train_command("configs/quickstart.yaml", "runs", "demo")
    assert cmd[1:] == ["-m", "forecaster", "train", "--config", "configs/quickstart.yaml",
                       "--output_dir", "runs", "--run_name", "demo"]  # fmt: skip


def test_settings_from_the_apps_own_arguments(tmp_path):
    s = AppSettings.from_argv(["--runs", "r", "--data", "d/x.csv", "--run", "tiny"])
    assert (s.runs.name, s.data_dir.name, s.data_file.name, s.run) == ("r", "d", "x.csv", "tiny")
    assert s.uploads.parts[-2:] == ("d", "uploads")
    assert AppSettings.from_argv([]).data_file is None
