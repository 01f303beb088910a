"""The bring-your-own-data example: user names and units, no fault labels, train, predict."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.predict.conftest import FAST_ARGS


def test_own_data_training_file_holds_only_fault_free_batches():
    from examples.make_own_data import simulated_batches

    train, new = simulated_batches(30, 30, seed=1, n_days=4)
    assert train.faults.empty and train.table["fault_label"].eq(0).all()
    assert not new.faults.empty  # new batches keep the default fault rate


@pytest.mark.slow
def test_own_data_example_trains_and_predicts(tmp_path, capsys):
    from examples.make_own_data import main as make
    from forecaster.cli import cli_main
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run
    from forecaster.serve.predict import main as predict

    data = tmp_path / "own.csv"
    assert (
        make(
            [
                "--out",
                str(data),
                "--n_batches",
                "12",
                "--n_new",
                "3",
                "--n_days",
                "8",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    header = data.read_text().splitlines()[0]
    assert "Glucose (mmol/L)" in header and "Temp (degF)" in header and "fault" not in header
    # the example config, with the debug preset's tiny model and trainer on top
    cfg, text = parse_config(["--config", "configs/examples/own_data.yaml", "--config", "configs/debug.yaml",
                              *FAST_ARGS, "--data.path", str(data), "--output_dir", str(tmp_path), "--run_name", "own"])  # fmt: skip
    assert cfg.data.column_map.units["glucose_g_L"] == "mmol/L"
    run_dir, metrics = run(cfg, text, log=lambda *_: None)
    assert metrics["data"]["n_batches"] == 12
    assert json.loads((run_dir / "metrics.json").read_text())[
        "anomaly"
    ]  # calibrated without labels

    new = data.with_name("own_new.csv")
    out = tmp_path / "out"
    assert (
        predict(["--run", str(run_dir), "--input", str(new), "--out", str(out), "--no_pictures"])
        == 0
    )
    pred = pd.read_csv(out / "predictions.csv")
    assert sorted(pred.batch_id) == ["NEW-0001", "NEW-0002", "NEW-0003"]
    assert pred.harvest_Titer_g_L.notna().all()  # the product in the user's name and unit

    # a file lacking a variable the models use: the error names it and how to drop it
    pd.read_csv(new).drop(columns=["NH3 (mM)"]).to_csv(tmp_path / "lack.csv", index=False)
    with pytest.raises(SystemExit) as ex:
        cli_main(
            lambda: predict(
                ["--run", str(run_dir), "--input", str(tmp_path / "lack.csv"), "--out", str(out)]
            )
        )
    err = capsys.readouterr().err
    assert ex.value.code == 2 and "'NH3 (mM)'" in err and "exclude_inputs: [ammonia_mM]" in err
