"""One tiny trained run folder shared by every predict test (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from forecaster import schema

torch.set_num_threads(1)

#: stage settings that keep a tiny run to seconds
FAST_ARGS = [
    "--explain.truth", "false",
    "--explain.n_test_batches", "2",
    "--explain.randomisation_batches", "0",
    "--anomaly.autoencoder.max_epochs", "1",
]  # fmt: skip
#: tiny and short: 12 simulated batches of 8 days, one epoch (see configs/debug.yaml)
TRAIN_ARGS = ["--config", "configs/debug.yaml", "--sim.run_length_days", "8", *FAST_ARGS]
#: simulated batches for prediction: another seed than training
NEW_SEED = 4242


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    out = tmp_path_factory.mktemp("runs")
    cfg, text = parse_config([*TRAIN_ARGS, "--output_dir", str(out), "--run_name", "tiny"])
    run_dir, _ = run(cfg, text, log=lambda *_: None)
    return run_dir


@pytest.fixture(scope="session")
def loaded_run(run_dir):
    from forecaster.serve.predict import load_run

    return load_run(run_dir)


@pytest.fixture(scope="session")
def new_table() -> pd.DataFrame:
    """Four new simulated 8-day batches (canonical columns, labels included)."""
    from forecaster.sim import SimConfig, simulate

    res = simulate(SimConfig(run_length_days=8), n_batches=4, seed=NEW_SEED)
    t = res.table
    return t.drop(columns=[c for c in t.columns if c.startswith("policy_")]).reset_index(drop=True)


def half_finished(table: pd.DataFrame, batch: str, hours: float) -> pd.DataFrame:
    """The table with one batch cut at ``hours`` (still running)."""
    cut = (table[schema.BATCH_ID] == batch) & (table[schema.TIME] > hours)
    return table[~cut].reset_index(drop=True)
