"""The Train page starts a run: epoch and loss progress from the output, a tiny real run."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import pytest

from forecaster.serve.app.jobs import TrainJob
from tests.app.conftest import texts

BAR = "Epoch 2:  50%|#####     | 1/2 [00:00<00:00,  5.00it/s, v_num=0, train_loss=0.412, val_loss=1.5e-01]"


def test_epoch_and_losses_come_from_the_progress_bar_lines():
    job = TrainJob.start(
        [sys.executable, "-c", f"print('[2/6] sequence forecaster'); print({BAR!r})"]
    )
    assert job.wait(30) == 0
    assert job.epoch == (3, None, {"train_loss": 0.412, "val_loss": 0.15})
    quiet = TrainJob.start([sys.executable, "-c", "print('[1/6] data: simulating')"])
    quiet.wait(30)
    assert quiet.epoch is None


@pytest.mark.slow
def test_train_page_launches_a_tiny_run_that_joins_the_run_list(app, app_dirs, tmp_path):
    from forecaster.serve.app import widgets

    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy("configs/debug.yaml", configs / "debug.yaml")
    runs = tmp_path / "runs"
    shutil.copytree(app_dirs.runs / "tiny", runs / "tiny")
    settings = replace(app_dirs, runs=runs, configs=configs)
    at = app("views/train.py", app_settings=settings)
    box = next(s for s in at.selectbox if s.label.startswith("Config file"))
    box.set_value("debug.yaml").run()
    at.text_input[0].set_value("from_page").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    job = widgets._jobs()[str(runs)]
    assert job.wait(300) == 0, "\n".join(job.lines[-20:])
    assert any(line.startswith("[2/6]") for line in job.lines)
    at.run()
    assert not at.exception
    assert "Training finished" in texts(at)
    assert (runs / "from_page" / "manifest.json").is_file()
    at.run()
    assert "from_page" in at.sidebar.selectbox[0].options


def test_ladder_choice_and_interval_tables_from_metrics():
    from forecaster.serve.app import tables

    metrics = {"titer": {
        "chosen": {"rung_by_day": {"5": "ridge", "3": "naive_ratio"}, "harvest_mape_by_day": {"3": 0.12, "5": 0.08},
                   "coverage": {"80": {"3": 0.75, "5": 0.8}}, "width_pct": {"80": {"3": 40.0, "5": 30.0}}},
        "rf": {"coverage": {"80": {"3": None}}, "width_pct": {"80": {"3": None}}},
        "ladder": {"rungs": ["ridge"]},
    }}  # fmt: skip
    chosen = tables.chosen_table(metrics)
    assert list(chosen["chosen model"]) == ["naive_ratio", "ridge"]
    assert list(chosen["MAPE (%)"]) == pytest.approx([12.0, 8.0])
    iv = tables.interval_table(metrics, "80")
    assert list(iv["model"]) == ["chosen"]  # rf has no value: left out
    assert iv.loc[0, "coverage day 3"] == 0.75 and iv.loc[0, "width day 5 (%)"] == 30.0
