"""Shared by the ladder tests: one small simulated train / val / test split."""

from __future__ import annotations

import pytest

from forecaster import schema


@pytest.fixture(scope="package")
def split():
    """20 simulated 6-day batches split 11 / 3 / 6 by batch id (train, val, test)."""
    from forecaster.sim import simulate
    from forecaster.sim.config import SimConfig

    tab = simulate(SimConfig(run_length_days=6), n_batches=20, seed=0).table
    ids = sorted(tab[schema.BATCH_ID].unique())
    pick = lambda s: tab[tab[schema.BATCH_ID].isin(s)]  # noqa: E731
    return pick(ids[:11]), pick(ids[11:14]), pick(ids[14:])
