"""Settings of the tiny trained run shared by the predict and app tests.

The session fixtures ``run_dir``, ``loaded_run`` and ``new_table`` live in the root
``tests/conftest.py``, so the run is trained once per session whoever asks first."""

from __future__ import annotations

import pandas as pd
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


def half_finished(table: pd.DataFrame, batch: str, hours: float) -> pd.DataFrame:
    """The table with one batch cut at ``hours`` (still running)."""
    cut = (table[schema.BATCH_ID] == batch) & (table[schema.TIME] > hours)
    return table[~cut].reset_index(drop=True)
