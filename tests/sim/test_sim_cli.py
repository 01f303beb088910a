"""Command line and configuration: files written, same bytes, clear errors, YAML = defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from forecaster import schema
from forecaster.sim import SimConfig, SimConfigError, simulate
from forecaster.sim.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--n_batches", "3", "--run_length_days", "3", "--faults.rate", "1.0", "--seed", "4"]


def test_default_yaml_equals_the_simconfig_defaults():
    parser = build_parser()
    ns = parser.parse_args(["--config", str(ROOT / "configs/sim/default.yaml"), "--out", "x.csv"])
    init = parser.instantiate(ns)
    cfg = SimConfig(**{f.name: getattr(init, f.name) for f in dataclasses.fields(SimConfig)})
    assert cfg == SimConfig()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_cli_writes_every_file_and_same_seed_gives_same_bytes(tmp_path, suffix, capsys):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run / f"run{suffix}"
        assert main([*SMALL, "--n_plot", "2", "--out", str(out)]) == 0
        outs.append(out)
    printed = capsys.readouterr().out
    assert "batches: 3 (3 with a fault" in printed and "harvest titer" in printed
    for name in (f"run{suffix}", "run.faults.csv", "run.batches.csv", "run.png", "run.config.yaml"):
        a, b = (o.parent / name for o in outs)
        assert a.stat().st_size > 0 and a.read_bytes() == b.read_bytes(), name
    assert not list(outs[0].parent.glob(".*tmp"))  # no temporary files left behind
    table = pd.read_parquet(outs[0]) if suffix == ".parquet" else pd.read_csv(outs[0])
    cfg = SimConfig(n_batches=3, run_length_days=3, seed=4)
    cfg.faults.rate = 1.0
    expected = simulate(cfg).table
    assert list(table.columns) == list(expected.columns)
    pd.testing.assert_series_equal(table["glucose_g_L"], expected["glucose_g_L"])
    faults = pd.read_csv(outs[0].parent / "run.faults.csv")
    assert tuple(faults.columns) == schema.FAULT_TABLE_COLUMNS and len(faults) == 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--n_batches", "0"], "n_batches"),
        (["--faults.rate", "1.5"], "faults.rate"),
        (["--feed_policy", "by_hand"], "feed_policy"),
        (["--dt_h", "0.3"], "sample_interval_h"),
        (["--faults.rat", "0.3"], "faults.rat"),
        (["--control.ph_reset_time_h", "0"], "control.ph_reset_time_h"),
        (["--n_batches", "many"], "n_batches"),
        (["--out", "run.txt"], ".parquet or .csv"),
    ],
)
def test_bad_values_give_one_line_and_exit_code_2(tmp_path, capsys, args, words):
    argv = ["--out", str(tmp_path / "run.csv"), *args] if "--out" not in args else args
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err
    assert not (tmp_path / "run.csv").exists()


def test_simulate_raises_a_config_error_naming_the_key():
    cfg = SimConfig()
    cfg.variability.mu_max_1_h.cv = -1.0
    with pytest.raises(SimConfigError, match=r"variability\.mu_max_1_h\.cv"):
        simulate(cfg, n_batches=1)
