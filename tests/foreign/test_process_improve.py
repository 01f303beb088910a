"""A second, independent data source: process-improve's batch simulator through a config alone.

Its export (benchmarks/foreign_export.py) is shaped unlike our simulator's: 12 h rows over
ten days, five online tags, eleven initial conditions, no feed, the titer only at harvest.
configs/examples/process_improve.yaml must read it, train on it and predict in its names.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "process_improve.simulation",
    reason="process-improve is not installed (a dev extra: pip install -e .[dev])",
)

CONFIG = "configs/examples/process_improve.yaml"
FAST = ["--config", "configs/debug.yaml", "--explain.truth", "false",
        "--explain.n_test_batches", "2", "--explain.randomisation_batches", "0",
        "--anomaly.autoencoder.max_epochs", "1"]  # fmt: skip


def _export(tmp_path, n: int, seed: int):
    from benchmarks.foreign_export import write

    return write(tmp_path / f"pi_{seed}.csv", n, seed=seed)


def test_export_is_shaped_like_a_historian_file(tmp_path):
    table = pd.read_csv(_export(tmp_path, 3, seed=2))
    assert len(table) == 3 * 20 and table["Batch"].nunique() == 3
    days = table.groupby("Batch")["Day"]
    assert np.allclose(days.min(), 0.5) and np.allclose(days.max(), 10.0)
    assert "Temperature (degC)" in table and "DO (%)" in table and "Feed" not in "".join(table)
    # the titer only on the last row of each batch; initial conditions constant per batch
    titer = table.groupby("Batch")["Titer (g/L)"]
    assert (titer.count() == 1).all() and table.groupby("Batch").tail(1)[
        "Titer (g/L)"
    ].notna().all()
    assert (table.groupby("Batch")["Seed age (h)"].nunique() == 1).all()


def test_config_reads_the_export_into_its_process(tmp_path):
    from forecaster.data.io import load_table
    from forecaster.data.process_config import build_process
    from forecaster.pipeline.config import load_config_file

    cfg, _ = load_config_file(CONFIG)
    process = build_process(cfg.data.process)
    assert process.product == "titer_g_L" and process.feed is None
    assert process.variable("seed_age_h").known_in_advance
    assert process.variable("ph_setpoint").known_in_advance
    report = load_table(_export(tmp_path, 4, seed=3), cfg.data.column_map, process=process)
    table = report.table
    assert set(table["batch_id"]) == {"PI-001", "PI-002", "PI-003", "PI-004"}
    assert table.groupby("batch_id")["time_h"].max().eq(240.0).all()  # days -> hours
    assert table["titer_g_L"].notna().sum() == 4


@pytest.mark.slow
def test_config_alone_trains_and_predicts_in_its_names(tmp_path):
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run
    from forecaster.serve.predict import main as predict

    data, new = _export(tmp_path, 12, seed=1), _export(tmp_path, 3, seed=7)
    cfg, text = parse_config(["--config", CONFIG, *FAST, "--data.path", str(data),
                              "--output_dir", str(tmp_path), "--run_name", "pi"])  # fmt: skip
    run_dir, metrics = run(cfg, text, log=lambda *_: None)
    assert metrics["data"]["n_batches"] == 12
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert stored["titer"]["chosen"]["harvest_mape_by_day"]  # a harvest forecast by origin day
    out = tmp_path / "out"
    assert predict(["--run", str(run_dir), "--input", str(new), "--out", str(out),
                    "--no_pictures"]) == 0  # fmt: skip
    pred = pd.read_csv(out / "predictions.csv")
    assert sorted(pred.batch_id) == ["PI-001", "PI-002", "PI-003"]
    assert pred["harvest_Titer_g_L"].between(0, 100).all()  # its name and unit
    assert (pred["harvest_Titer_p10_g_L"] <= pred["harvest_Titer_p90_g_L"]).all()
    assert "no feed" in pred["feed_next"].iloc[0]
