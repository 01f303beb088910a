"""Per-batch parameter draws and the independent random streams of a simulation.

Every random number is drawn from one of five streams spawned from the seed (parameters,
faults, operator, process, measurement), each in ONE batch-major call whose size does not
depend on the trajectory. So a perturbation of the state, or turning faults on or off,
leaves every other draw unchanged, and batch i is the same batch whatever ``n_batches`` is
(the first 5 batches of a 200-batch run equal a 5-batch run with the same seed).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.special import ndtr

from forecaster.sim.config import Dist, SimConfig


@dataclass
class Streams:
    """Independent generators, one per purpose."""

    params: np.random.Generator
    faults: np.random.Generator
    operator: np.random.Generator
    process: np.random.Generator
    measurement: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        """Spawn the five streams from one seed."""
        children = np.random.SeedSequence(seed).spawn(5)
        return cls(*(np.random.default_rng(c) for c in children))


def from_normal(dist: Dist, z: np.ndarray) -> np.ndarray:
    """Values of ``dist`` for standard normals ``z`` (normal with CV, clipped, rounded)."""
    x = dist.mean * (1.0 + dist.cv * z)
    if dist.lo is not None or dist.hi is not None:
        x = np.clip(x, dist.lo, dist.hi)
    if dist.step > 0:
        x = np.round(x / dist.step) * dist.step
    return x


def draw_batch_params(cfg: SimConfig, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw every :class:`Variability` field plus derived timings.

    Returns:
        dict of (n,) arrays keyed by the Variability field names, plus ``run_length_h``,
        ``temperature_shift_h`` and ``feed_start_h`` (h, on the sample grid).
    """
    names = [f.name for f in fields(cfg.variability)]
    # One batch-major draw: batch i gets the same numbers whatever n is.
    z = rng.standard_normal((n, len(names) + 1))
    out = {
        name: from_normal(getattr(cfg.variability, name), z[:, j]) for j, name in enumerate(names)
    }
    spread = int(cfg.run_length_spread_days)
    u = np.clip(ndtr(z[:, -1]), 0.0, 1.0 - 1e-12)
    extra = np.floor(u * (2 * spread + 1)).astype(int) - spread
    out["run_length_h"] = (cfg.run_length_days + extra) * 24.0
    si = cfg.sample_interval_h
    out["temperature_shift_h"] = np.round(out["temperature_shift_day"] * 24.0 / si) * si
    # Feeding starts at the first assay on or after the drawn feed-start day.
    ai = cfg.assay_interval_h
    out["feed_start_h"] = np.ceil(out["feed_start_day"] * 24.0 / ai - 1e-9) * ai
    return out
