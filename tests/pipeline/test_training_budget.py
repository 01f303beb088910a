"""The forecaster's training length comes from an optimiser-step budget (tiny run)."""

from __future__ import annotations

import json

from forecaster.pipeline.config import parse_config
from forecaster.pipeline.train import run
from tests.predict.conftest import TRAIN_ARGS


def test_min_steps_raise_the_epoch_limit_and_are_recorded(tmp_path):
    args = [*TRAIN_ARGS, "--anomaly.enabled", "false", "--explain.enabled", "false",
            "--trainer.max_epochs", "1", "--trainer.patience", "1", "--trainer.min_steps", "6",
            "--output_dir", str(tmp_path), "--run_name", "budget"]  # fmt: skip
    cfg, text = parse_config(args)
    run_dir, metrics = run(cfg, text, log=lambda *_: None)
    info = json.loads((run_dir / "metrics.json").read_text())["forecast_training"]
    assert info["epoch_limit"] > 1  # one epoch is fewer than 6 steps on this data
    assert info["steps"] >= 6  # early stopping could not end it before the budget
    assert info["epochs"] >= 2
    assert len(info["val_loss_by_epoch"]) >= 2
    report = (run_dir / "report.md").read_text()
    assert "optimiser steps" in report
