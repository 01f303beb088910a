"""The stage end to end on tiny hand-made data: files, metrics, report, no-label mode."""

from __future__ import annotations

import json
import types

import pandas as pd
import pytest
import torch

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig, AutoencoderConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.data.features import Preprocessor
from forecaster.pipeline.anomaly_stage import run_anomaly_stage
from forecaster.pipeline.context import RunContext
from tests.anomaly.conftest import make_table


def _ctx(tmp_path, has_labels=True, seed=0):
    table, faults = make_table(12, {"F000": 50.0, "F001": 40.0, "F002": 60.0}, n_hours=96)
    normal = [f"N{i:03d}" for i in range(12)]
    splits = {
        "train": normal[:6],
        "val": normal[6:9] + ["F002"],
        "test": normal[9:] + ["F000", "F001"],
    }
    prep = Preprocessor.fit(
        table[table[schema.BATCH_ID].isin(splits["train"])], list(schema.VARIABLE_NAMES)
    )
    cfg = AnomalyConfig(
        autoencoder=AutoencoderConfig(window_h=8, hidden_size=16, latent_size=4, max_epochs=4)
    )
    if not has_labels:
        table = table.drop(columns=list(schema.LABEL_COLUMNS))
        faults = faults.iloc[:0]
    return RunContext(
        cfg=types.SimpleNamespace(anomaly=cfg), run_dir=tmp_path, table=table, faults=faults,
        splits=splits, prep=prep, seed=seed, has_labels=has_labels,
        trainer_kwargs={"enable_progress_bar": False, "enable_model_summary": False, "logger": False},
    )  # fmt: skip


def test_stage_writes_files_metrics_and_report(tmp_path):
    torch.set_num_threads(1)
    ctx = _ctx(tmp_path)
    with pytest.warns(UserWarning, match="excluded"):
        res = run_anomaly_stage(ctx)
    for d in ("autoencoder", "rules", "pca", "combined"):
        for k in (
            "event_recall",
            "precision",
            "f1",
            "false_alarms_per_100_batch_days",
            "median_delay_h",
            "event_recall_by_type",
            "median_delay_h_by_type",
            "top_variable_accuracy",
            "auroc",
            "auprc",
        ):
            assert k in res[d], (d, k)
    assert (
        res["combined"]["n_fault_events"] == 2
    )  # F002 is in val: excluded from calibration and test
    assert res["autoencoder"]["calibration"]["excluded_batches"] == ["F002"]
    assert res["autoencoder"]["event_recall"] == 1.0
    assert res["autoencoder"]["auroc"] > 0.9
    thr = json.loads((tmp_path / "anomaly" / "thresholds.json").read_text())
    assert thr["autoencoder"]["threshold"] == res["autoencoder"]["threshold"]
    # 6 training batches: out-of-fold calibration on them; the 3 normal val batches measure
    assert thr["autoencoder"]["mode"] == "out_of_fold"
    assert thr["autoencoder"]["n_batches"] == 6 and thr["autoencoder"]["heldout_batches"] == 3
    assert thr["pca"]["persistence_steps"] == 2  # the PCA section's own threshold settings
    assert res["pca"]["n_components"] >= 1 and res["info"]["pca_components"] >= 1
    report = ctx.report[-1]
    assert "| combined |" in report and "figures/anomaly_F000.png" in report
    assert (tmp_path / "figures" / "anomaly_F000.png").exists()
    det = AnomalyDetector.load(tmp_path)
    rows = ctx.table[ctx.table[schema.BATCH_ID] == "F000"]
    assert any(e.detector == "autoencoder" for e in det.detect(rows))


def test_stage_without_labels_trains_and_skips_metrics(tmp_path):
    ctx = _ctx(tmp_path, has_labels=False)
    res = run_anomaly_stage(ctx)
    assert "no fault labels" in res["note"]
    assert "event_recall" not in res["combined"]
    assert (tmp_path / "anomaly" / "model.pt").exists()


def test_disabled_stage_does_nothing(tmp_path):
    ctx = _ctx(tmp_path)
    ctx.cfg.anomaly.enabled = False
    assert run_anomaly_stage(ctx) == {"enabled": False}
    assert not (tmp_path / "anomaly").exists()


@pytest.mark.slow
def test_same_seed_same_metrics(tmp_path):
    a = run_anomaly_stage(_ctx(tmp_path / "a"))
    b = run_anomaly_stage(_ctx(tmp_path / "b"))
    assert a["autoencoder"]["threshold"] == b["autoencoder"]["threshold"]
    assert (
        pd.Series(a["combined"]).drop(["bars"]).to_dict()
        == pd.Series(b["combined"]).drop(["bars"]).to_dict()
    )
