"""End-to-end: train on tiny simulated data, reload with weights_only, predict."""

import json
import math

import pytest
import torch

from forecaster.bundle import verify
from forecaster.models.sequence import SequenceForecaster
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.train import run

FAST = [
    "--config",
    "configs/debug.yaml",
    "--explain.enabled",
    "false",
    "--anomaly.enabled",
    "false",
]


def _run(tmp_path, name, *extra):
    cfg, text = parse_config([*FAST, "--output_dir", str(tmp_path), "--run_name", name, *extra])
    return run(cfg, text, log=lambda *_: None)


def _finite_leaves(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _finite_leaves(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{prefix}{k}", v


def test_tiny_run_writes_a_complete_run_folder(tmp_path):
    run_dir, metrics = _run(tmp_path, "a")
    for rel in (
        "config.yaml",
        "metrics.json",
        "report.md",
        "manifest.json",
        "forecast/model.pt",
        "forecast/last.ckpt",
        "forecast/best.ckpt",
    ):
        assert (run_dir / rel).exists(), rel
    assert any((run_dir / "tb" / "forecast").rglob("events.out.tfevents*"))
    verify(run_dir)
    # every picture the report links exists
    import re

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (run_dir / "report.md").read_text())
    assert "figures/forecast_mape_by_day.png" in links
    assert all((run_dir / link).exists() for link in links), links
    m = json.loads((run_dir / "metrics.json").read_text())
    for key in ("r2", "rmse"):
        assert key in m["feed"]["sequence"] and key in m["feed"]["rf"]
    assert set(m["titer"]["sequence"]["harvest_mape_by_day"]) <= {"3", "5", "7", "10"}
    # the naive rungs stand beside the models, and the forecast the tool gives is named
    for rung in ("naive_mean", "naive_ratio", "naive_slope", "ridge", "chosen"):
        assert set(m["titer"][rung]["harvest_mape_by_day"]) == {"3", "5", "7", "10"}, rung
    assert set(m["titer"]["chosen"]["coverage"]) == {"80", "90", "95"}
    report = (run_dir / "report.md").read_text()
    assert "| chosen |" in report and "| naive_ratio |" in report
    assert (
        m["data"]["n_train_batches"] + m["data"]["n_val_batches"] + m["data"]["n_test_batches"]
        == m["data"]["n_batches"]
    )
    assert m["timing"]["train_s"] > 0
    # the RF and the sequence model were fitted on the same batches, none of them test batches
    splits = json.loads((run_dir / "splits.json").read_text())
    assert splits["fit"]["sequence"] == splits["fit"]["rf"]
    fitted = set(splits["fit"]["sequence"]["train"]) | set(splits["fit"]["sequence"]["val"])
    assert fitted and not fitted & set(splits["test"])
    assert not set(splits["fit"]["sequence"]["train"]) & set(splits["faulty"])
    # the saved model loads without pickled classes and predicts like the in-memory one
    model = SequenceForecaster.load(run_dir / "forecast" / "model.pt")
    assert isinstance(torch.load(run_dir / "forecast" / "model.pt", weights_only=True), dict)
    assert model.prep.n_features > 0


@pytest.mark.slow  # 26 s: two tiny trainings; the suite budget is 10 min on 2 cores
def test_same_seed_same_metrics(tmp_path):
    _, m1 = _run(tmp_path, "s1")
    _, m2 = _run(tmp_path, "s2")
    a = dict(_finite_leaves({k: m1[k] for k in ("feed", "titer")}))
    b = dict(_finite_leaves({k: m2[k] for k in ("feed", "titer")}))
    assert a and a.keys() == b.keys()
    for k in a:
        assert (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k], k


@pytest.mark.slow  # 35 s: a training, interrupted and resumed
def test_resume_reaches_the_same_result(tmp_path, monkeypatch):
    args = ("--trainer.max_epochs", "4", "--trainer.patience", "10")
    _, full = _run(tmp_path, "full", *args)

    from forecaster.pipeline import forecast_stage

    original = forecast_stage.FigureCallback.on_validation_epoch_end

    def killed(self, trainer, module):
        if trainer.current_epoch == 2:
            raise RuntimeError("killed half-way")
        return original(self, trainer, module)

    monkeypatch.setattr(forecast_stage.FigureCallback, "on_validation_epoch_end", killed)
    with pytest.raises(RuntimeError, match="killed"):
        _run(tmp_path, "res", *args)
    monkeypatch.setattr(forecast_stage.FigureCallback, "on_validation_epoch_end", original)
    _, resumed = _run(tmp_path, "res", *args, "--resume", "true")
    assert resumed["forecast_training"]["resumed_from"]
    assert resumed["feed"]["sequence"] == pytest.approx(full["feed"]["sequence"], rel=1e-6)
    assert resumed["titer"]["sequence"]["harvest_mape_by_day"] == pytest.approx(
        full["titer"]["sequence"]["harvest_mape_by_day"], rel=1e-6
    )
