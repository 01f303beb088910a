"""Shared by every test: one fast-trainer setting and one tiny-table factory.

- ``FAST_TRAINER`` / the ``fast_trainer`` fixture: ``lightning.Trainer`` keyword arguments
  that keep a fit to seconds on a CPU (no progress bar, no summary, no logger, no
  checkpoints); a test adds only its own ``max_epochs``.
- the ``tiny_table`` fixture: a factory of small synthetic batch tables with every canonical
  column (``tiny_table(n_batches=4, n_hours=96, seed=0)``), no simulator needed.
- the session fixtures ``run_dir`` (one tiny trained run folder, seconds), ``loaded_run`` and
  ``new_table`` (four new simulated batches) shared by the predict and app tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from hypothesis import settings

from tests.predict.conftest import NEW_SEED, TRAIN_ARGS
from tests.synthetic import synthetic_table

torch.set_num_threads(1)

# Property tests are reproducible in CI (same examples every run); set
# HYPOTHESIS_PROFILE=explore to search new examples locally (a finding prints its blob).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Lightning settings for every test fit
FAST_TRAINER: dict = {
    "accelerator": "cpu",
    "devices": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "enable_checkpointing": False,
    "logger": False,
}


@pytest.fixture
def fast_trainer() -> dict:
    """A fresh copy of :data:`FAST_TRAINER`."""
    return dict(FAST_TRAINER)


@pytest.fixture
def tiny_table():
    """Factory of tiny synthetic batch tables (see :func:`tests.synthetic.synthetic_table`)."""
    return synthetic_table


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
