"""Pre-drawn noise: sensor and assay noise on every row, operator noise on every decision.

Drawn before the time loop so the draws do not depend on the trajectory. The feed policy reads
assays through :func:`assay_value` and the volume through :func:`volume_reading`, the same
functions the measurement layer uses, so ``policy_*`` columns equal the logged readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.sim.config import SimConfig
from forecaster.sim.params import Streams

#: Assays with multiplicative noise: column -> Measurement field holding its CV.
ASSAY_CV = {
    "vcd_1e6_cells_mL": "vcd_cv",
    "glucose_g_L": "glucose_cv",
    "lactate_g_L": "lactate_cv",
    "glutamine_mM": "glutamine_cv",
    "ammonia_mM": "ammonia_cv",
    "titer_mg_L": "titer_cv",
}
#: Readings with additive noise: column -> Measurement field holding its sd.
ADDITIVE_SD = {
    "viability_pct": "viability_sd_pct",
    "do_pct": "do_sd_pct",
    "ph": "ph_sd",
    "temperature_C": "temperature_sd_C",
    "volume_L": "volume_sd_L",
}


@dataclass
class Noise:
    """Noise of one simulation.

    Attributes:
        z: column -> (rows, n) standard normals already scaled by its CV or sd (zeros when
            ``noise_free_dense``).
        operator: (decisions, n) multiplicative lognormal operator noise (mean 1).
        process: (steps, n) standard normals driving the in-loop process noise.
    """

    z: dict[str, np.ndarray]
    operator: np.ndarray
    process: np.ndarray

    @classmethod
    def draw(cls, cfg: SimConfig, n_rows: int, n: int, streams: Streams) -> Noise:
        """Draw all noise for ``n_rows`` rows of ``n`` batches.

        Each stream is drawn in one batch-major call sized by the longest possible run, so
        batch i's noise does not depend on ``n`` or on the other batches' run lengths.
        """
        m = cfg.measurement
        spr = int(round(cfg.sample_interval_h / cfg.dt_h))
        longest_h = (cfg.run_length_days + cfg.run_length_spread_days) * 24.0
        r_max = int(round(longest_h / cfg.sample_interval_h)) + 1
        names = {**ASSAY_CV, **ADDITIVE_SD}
        draws = streams.measurement.standard_normal((n, len(names), r_max))
        z = {}
        for j, (name, attr) in enumerate(names.items()):
            zj = draws[:, j, :n_rows].T * (0.0 if cfg.noise_free_dense else getattr(m, attr))
            z[name] = np.ascontiguousarray(zj)
        n_dec = int(np.ceil(r_max * cfg.sample_interval_h / cfg.assay_interval_h)) + 1
        s = cfg.feed.noise_cv
        sigma = np.sqrt(np.log1p(s * s))
        zo = streams.operator.standard_normal((n, n_dec)).T
        op = np.exp(sigma * zo - 0.5 * sigma * sigma)
        proc = streams.process.standard_normal((n, (r_max - 1) * spr))[:, : (n_rows - 1) * spr]
        return cls(z, np.ascontiguousarray(op), np.ascontiguousarray(proc.T))


def assay_value(true: np.ndarray, noise: Noise, name: str, row: int | slice) -> np.ndarray:
    """Measured assay ``name`` at ``row``: true x (1 + cv z), never negative."""
    return np.maximum(true * (1.0 + noise.z[name][row]), 0.0)


def volume_reading(true: np.ndarray, noise: Noise, row: int | slice) -> np.ndarray:
    """Volume reading (L) at ``row``: true + sd z."""
    return true + noise.z["volume_L"][row]
