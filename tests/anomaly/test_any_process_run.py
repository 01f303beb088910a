"""A microbial training run with the anomaly and explanation stages on: the rules read its
columns, thresholds are set out of fold (10 batches), the report gives the target beside the
measured held-out rate, and explanations name its product."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from tests.pipeline.any_process_data import write_case

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from forecaster.pipeline.train import train

    tmp = tmp_path_factory.mktemp("microbial_anomaly")
    cfg_path, _ = write_case(tmp, harvest_only=False, n_batches=12, step_h=4.0)
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["anomaly"] = {
        "autoencoder": {"window_h": 4, "hidden_size": 8, "latent_size": 2, "max_epochs": 1},
        "calibration": {"folds": 3},
    }
    cfg["explain"] = {"n_test_batches": 2, "methods": ["ig"], "ig_steps": 4,
                      "randomisation_batches": 0, "truth": False}  # fmt: skip
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return train(cfg_path, log=lambda *_: None)


def test_anomaly_stage_follows_the_microbial_process(run):
    run_dir, metrics = run
    a = metrics["anomaly"]
    assert a["info"]["rule_variables"]["do_pct"] == "do_mg_L"
    assert a["info"]["calibration_mode"] == "out_of_fold"
    learned = a["rules"]["learned"]
    assert learned["firing_checked"] == "out_of_fold"
    assert not {"glucose_starvation", "vcd_drop", "viability_drop"} & set(
        learned["firing_share_on_training_batches"]
    )
    cal = a["autoencoder"]["calibration"]
    assert cal["mode"] == "out_of_fold" and cal["folds"] == 3
    report = (run_dir / "report.md").read_text()
    assert "set out of fold (3 folds" in report and "held-out" in report
    thr = json.loads((run_dir / "anomaly" / "thresholds.json").read_text())
    assert thr["rule_variables"]["columns"]["feed_rate_mL_h"] == "feed_flow_L_h"


def test_explanations_name_the_microbial_product(run):
    run_dir, metrics = run
    e = metrics["attribution"]
    assert e["product"]["name"] == "product_g_L" and e["feed_column"] == "feed_flow_L_h"
    assert "### Harvest" in (run_dir / "report.md").read_text()
