"""Mechanistic CHO fed-batch simulator, vectorised over batches.

Usage::

    from forecaster.sim import SimConfig, simulate

    res = simulate(SimConfig(), n_batches=50, seed=0)
    res.table   # batch table (schema columns + fault labels + policy_* inputs)
    res.faults  # fault table, one row per injected fault
    res.batches # one row per batch: drawn parameters, true harvest titer

Command line: ``python -m forecaster.sim --config configs/sim/default.yaml --out run.parquet``.
"""

from forecaster.sim.config import (
    Control,
    Dist,
    FeedPolicyConfig,
    Kinetics,
    Measurement,
    SimConfig,
    Variability,
)
from forecaster.sim.fault_config import FaultsConfig, FaultSpec
from forecaster.sim.feed_policy import POLICIES, FeedPolicy, PolicyParams, get_policy
from forecaster.sim.result import PERTURB_STATES, Perturbation, SimResult
from forecaster.sim.simulate import simulate
from forecaster.sim.validate import SimConfigError

__all__ = [
    "POLICIES",
    "PERTURB_STATES",
    "Control",
    "Dist",
    "FaultSpec",
    "FaultsConfig",
    "FeedPolicy",
    "FeedPolicyConfig",
    "Kinetics",
    "Measurement",
    "Perturbation",
    "PolicyParams",
    "SimConfig",
    "SimConfigError",
    "SimResult",
    "Variability",
    "get_policy",
    "simulate",
]
