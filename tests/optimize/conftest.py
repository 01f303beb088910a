"""Tiny simulated batch sets shared by the optimize tests (fault-free, 6-day runs)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_sim():
    """Twelve fault-free 6-day simulated batches (SimResult: table and drawn parameters)."""
    from forecaster.sim import FaultsConfig, SimConfig, simulate

    return simulate(SimConfig(run_length_days=6, faults=FaultsConfig(rate=0.0)), n_batches=12,
                    seed=3)  # fmt: skip


def planted_factors(y_of, n: int = 60, p: int = 5, seed: int = 0):
    """BatchFactors of ``n`` batches with ``p`` uniform(0, 1) recipe factors x0..x{p-1} and
    titer ``y_of(X) + noise`` (sd 0.05)."""
    import numpy as np
    import pandas as pd

    from forecaster.optimize.factors import BatchFactors, Factor

    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, (n, p))
    y = y_of(X) + rng.normal(0.0, 0.05, n)
    names = [f"x{i}" for i in range(p)]
    idx = pd.Index([f"B{i:03d}" for i in range(n)], name="batch_id")
    factors = [Factor(nm, f"factor {i}", "u", "recipe", nm) for i, nm in enumerate(names)]
    return BatchFactors(pd.DataFrame(X, index=idx, columns=names), pd.Series(y, index=idx),
                        factors, "titer_mg_L", "mg/L", "Titer")  # fmt: skip


@pytest.fixture
def planted():
    """Factory: :func:`planted_factors`."""
    return planted_factors
