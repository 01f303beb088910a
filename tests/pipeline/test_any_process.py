"""Any fed-batch process through a config alone: a microbial table trains and predicts.

(a) in-run product assays and a feed; (b) the product measured only at harvest, no feed,
static initial conditions. Both run ``train`` from a YAML config (tiny trainer settings),
then ``predict`` on batches of the same file, in the user's column names and units.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from tests.pipeline.any_process_data import INITIAL, PRODUCT_COLUMN, write_case

torch.set_num_threads(1)


def _train_and_predict(tmp, harvest_only: bool):
    from forecaster.pipeline.train import train
    from forecaster.serve.predict import main as predict

    cfg, data = write_case(tmp, harvest_only, n_batches=10, step_h=12.0 if harvest_only else 4.0)
    run_dir, metrics = train(cfg, log=lambda *_: None)
    table = pd.read_csv(data)
    new = tmp / "new.csv"
    table[table["Batch"].isin(json.loads((run_dir / "splits.json").read_text())["test"])].to_csv(
        new, index=False
    )
    out = tmp / "out"
    assert predict(["--run", str(run_dir), "--input", str(new), "--out", str(out),
                    "--no_pictures", "--threads", "1"]) == 0  # fmt: skip
    return run_dir, metrics, out


@pytest.fixture(scope="module")
def assays(tmp_path_factory):
    return _train_and_predict(tmp_path_factory.mktemp("assays"), harvest_only=False)


@pytest.fixture(scope="module")
def harvest(tmp_path_factory):
    return _train_and_predict(tmp_path_factory.mktemp("harvest"), harvest_only=True)


def _never_worse_than_naive(metrics: dict) -> None:
    """The chosen forecast is no worse than the best naive rung on the batches it was
    selected on (out-of-fold over train + val, or the validation batches when an expensive
    rung won there: ``on``)."""
    chosen = metrics["titer"]["chosen"]
    naive = metrics["titer"]["ladder"]["naive_rungs"]
    assert chosen["rung_by_day"]
    for day, sel in chosen["selection_by_day"].items():
        assert sel["on"] in ("cv", "val") and sel["best_naive"] in naive
        assert sel["mape"] <= sel["best_naive_mape"] + 1e-12, day


def test_microbial_with_assays_and_feed(assays):
    run_dir, metrics, out = assays
    assert metrics["process"]["product_variable"] == "product_g_L"
    assert metrics["process"]["product"] == PRODUCT_COLUMN
    for model in ("sequence", "rf"):
        assert np.isfinite(metrics["feed"][model]["rmse"])
        assert set(metrics["titer"][model]["harvest_mape_by_day"]) == {"3", "5", "7"}
        assert all(np.isfinite(v) for v in metrics["titer"][model]["harvest_mape_by_day"].values())
    assert metrics["titer"]["origin_days_dropped"]["days"] == [10]  # 8-day batches
    for rung in ("naive_mean", "naive_ratio", "naive_slope", "ridge"):
        assert rung in metrics["titer"], rung
    _never_worse_than_naive(metrics)
    model = torch.load(run_dir / "forecast" / "model.pt", weights_only=True)
    prep = model["state"]["prep"] if "state" in model else model["prep"]
    assert prep["product"] == "product_g_L" and prep["feed"] == "feed_flow_L_h"
    assert prep["roles"]["biomass_g_L"] == "offline" and prep["format_version"] == 2
    pred = pd.read_csv(out / "predictions.csv")
    assert {"feed_next_L_h", "harvest_Penicillin_g_L", "harvest_Penicillin_p90_g_L"} <= set(
        pred.columns
    )
    assert pred["harvest_Penicillin_g_L"].notna().all() and (pred["feed_next_L_h"] >= 0).all()
    traj = pd.read_csv(out / "trajectories.csv")
    assert "Penicillin_g_L" in traj.columns
    report = (run_dir / "report.md").read_text()
    assert "Penicillin (g/L)" in report and "titer" not in report.lower().split("## anomal")[0]


def test_microbial_product_at_harvest_only_without_feed(harvest):
    run_dir, metrics, out = harvest
    assert metrics["feed"] == {"note": "no feed to recommend (the process has no feed)"}
    assert not metrics["process"]["has_feed"]
    t = metrics["titer"]
    skipped = t["ladder"]["skipped"]
    assert set(skipped) == {"naive_ratio", "naive_slope", "ridge"}
    assert all("only at harvest" in why for why in skipped.values())
    assert t["ladder"]["naive_rungs"] == ["naive_mean"]
    assert "ridge_summary" in t and set(t["naive_mean"]["harvest_mape_by_day"]) == {"3", "5", "7"}
    assert t["origin_days_dropped"]["days"] == [10]  # 10-day batches end at day 10
    _never_worse_than_naive(metrics)
    for model in ("sequence", "rf"):
        assert all(np.isfinite(v) for v in t[model]["harvest_mape_by_day"].values())
    model = torch.load(run_dir / "forecast" / "model.pt", weights_only=True)
    prep = model["state"]["prep"] if "state" in model else model["prep"]
    assert "product_g_L" not in prep["variables"]  # measured at harvest only: no input
    assert prep["feed"] is None
    for initial in INITIAL.values():  # static initial conditions are inputs
        assert initial in prep["variables"] and prep["roles"][initial] == "static"
    pred = pd.read_csv(out / "predictions.csv")
    assert (pred["feed_next"] == "no feed to recommend").all()
    assert "harvest_Penicillin_g_L" in pred.columns and pred["harvest_Penicillin_g_L"].gt(0).all()
    assert "no feed to recommend" in (out / "report.md").read_text()
    traj = pd.read_csv(out / "trajectories.csv")  # no daily curve: only the harvest day
    assert "Penicillin_g_L" in traj.columns and traj.groupby("batch_id").size().eq(1).all()
    report = (run_dir / "report.md").read_text()
    assert "no feed to recommend" in report and "feed R²" not in report
    assert "ridge skipped" in report and "origin days dropped: 10" in report
