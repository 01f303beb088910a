"""The anomaly stage in a second process gives the same run as in one process."""

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.side_stage import AUTO_MIN_BATCHES, runs_beside
from forecaster.pipeline.train import run
from tests.predict.conftest import TRAIN_ARGS


def _ctx(mode, n_batches, accelerator="cpu", devices="auto", anomaly=True):
    trainer = SimpleNamespace(parallel_stages=mode, accelerator=accelerator, devices=devices,
                              num_nodes=1)  # fmt: skip
    cfg = SimpleNamespace(trainer=trainer, anomaly=SimpleNamespace(enabled=anomaly))
    table = pd.DataFrame({"batch_id": [f"B{i}" for i in range(n_batches)]})
    return SimpleNamespace(cfg=cfg, table=table)


def test_when_the_anomaly_stage_goes_to_a_second_process(monkeypatch):
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 2)
    assert runs_beside(_ctx("auto", AUTO_MIN_BATCHES))
    assert not runs_beside(_ctx("auto", AUTO_MIN_BATCHES - 1))  # small: not worth a process
    assert runs_beside(_ctx(True, 3)) and runs_beside(_ctx("true", 3))
    assert not runs_beside(_ctx(False, 500)) and not runs_beside(_ctx("false", 500))
    assert not runs_beside(_ctx("true", 500, accelerator="gpu"))
    assert not runs_beside(_ctx("true", 500, devices=4))
    assert not runs_beside(_ctx("true", 500, anomaly=False))
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 1)
    assert not runs_beside(_ctx("true", 500))
    with pytest.raises(ConfigError, match="expected auto, true or false"):
        runs_beside(_ctx("sometimes", 500))


def test_second_processes_give_the_same_anomaly_and_attribution_results_and_report(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 2)
    runs = {}
    for mode in ("true", "false"):
        cfg, text = parse_config([*TRAIN_ARGS, "--output_dir", str(tmp_path), "--run_name", mode,
                                  "--trainer.parallel_stages", mode, "--explain.enabled", "true",
                                  "--explain.targets", "[titer]"])  # fmt: skip
        runs[mode] = run(cfg, text, log=lambda *_: None)
    (par_dir, par), (one_dir, one) = runs["true"], runs["false"]
    assert "anomaly_wait_s" in par["timing"] and "explain_wait_s" in par["timing"]
    assert "anomaly_wait_s" not in one["timing"] and "explain_wait_s" not in one["timing"]
    for key in ("anomaly", "attribution"):
        a, b = dict(par[key]), dict(one[key])
        for d in (a, b):
            d.pop("seconds", None)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), key
    drop = ("# Run report", "- Total time")
    lines = [
        [x for x in (d / "report.md").read_text().splitlines() if not x.startswith(drop)]
        for d in (par_dir, one_dir)
    ]
    assert lines[0] == lines[1]
    assert sorted(p.name for p in (par_dir / "explain").iterdir()) == sorted(
        p.name for p in (one_dir / "explain").iterdir()
    )
