"""Shared by every test: one fast-trainer setting and one tiny-table factory.

- ``FAST_TRAINER`` / the ``fast_trainer`` fixture: ``lightning.Trainer`` keyword arguments
  that keep a fit to seconds on a CPU (no progress bar, no summary, no logger, no
  checkpoints); a test adds only its own ``max_epochs``.
- the ``tiny_table`` fixture: a factory of small synthetic batch tables with every canonical
  column (``tiny_table(n_batches=4, n_hours=96, seed=0)``), no simulator needed.
"""

from __future__ import annotations

import pytest
import torch

from tests.synthetic import synthetic_table

torch.set_num_threads(1)

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
