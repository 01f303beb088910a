"""Shared simulation results for the simulator tests (module-scoped: simulated once)."""

from __future__ import annotations

import pytest

from forecaster.sim import SimConfig, SimResult, simulate

from .helpers import clean_config


@pytest.fixture(scope="module")
def clean() -> SimResult:
    """Six fault-free, noise-free 9-day batches."""
    return simulate(clean_config(), n_batches=6, seed=1)


@pytest.fixture(scope="module")
def faulty() -> SimResult:
    """Sixteen noisy 10-day batches, every one with a fault (all types present)."""
    cfg = SimConfig(run_length_days=10.0)
    cfg.faults.rate = 1.0
    return simulate(cfg, n_batches=16, seed=2)
