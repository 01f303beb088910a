"""Per-batch parameters of the mechanistic model from the measurements so far (MAP).

The uncertain culture parameters (growth rate, density limit, specific productivity and its
shift gain, glucose uptake, lactate yield, death onset, and the true seeding density) are
written as standard normals ``z`` around the process's prior (``sim.config.Variability``:
value = mean x (1 + cv z)). The estimate minimises the squared, noise-scaled log residuals
of the assays (VCD, viability, glucose, lactate, titer) plus ``|z|^2`` (the prior), by
bounded Gauss-Newton (scipy ``least_squares``) with a Jacobian from one vectorised model run.
With few data the estimate stays at the prior; it moves as the assays arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from forecaster.optimize.feed_plan_data import History, Recipe
from forecaster.optimize.mechanistic import Setpoints, integrate
from forecaster.sim.config import Dist, Kinetics, Variability

#: Estimated parameters (Variability names); ``xv0_scale`` scales the measured seeding density.
ESTIMATED = (
    "mu_max_1_h", "vcd_capacity_1e6_cells_mL", "qp_pg_cell_day", "qp_shift_gain",
    "glucose_uptake_scale", "lactate_yield_mol_mol", "death_onset_h", "xv0_scale",
)  # fmt: skip
XV0_PRIOR = Dist(1.0, 0.06, 0.8, 1.2)  # the day-0 VCD assay's noise
#: (column, model state, log offset, sd of the log residual: assay noise + model error)
RESIDUALS = (
    ("vcd_1e6_cells_mL", "xv", 0.05, 0.10),
    ("glucose_g_L", "glc", 0.3, 0.10),
    ("lactate_g_L", "lac", 0.2, 0.15),
    ("titer_mg_L", "titer", 30.0, 0.08),
)
VIABILITY_SD_PCT = 3.0


def prior(var: Variability) -> dict[str, Dist]:
    """Prior distribution of every estimated parameter."""
    return {n: XV0_PRIOR if n == "xv0_scale" else getattr(var, n) for n in ESTIMATED}


def z_bounds(var: Variability) -> tuple[np.ndarray, np.ndarray]:
    """(k,) lower and upper z of each estimated parameter (its draw's clip range, <= 3 sd)."""
    lo, hi = [], []
    for d in prior(var).values():
        a = -3.0 if d.lo is None or d.cv == 0 else max((d.lo / d.mean - 1) / d.cv, -3.0)
        b = 3.0 if d.hi is None or d.cv == 0 else min((d.hi / d.mean - 1) / d.cv, 3.0)
        lo.append(a)
        hi.append(b)
    return np.array(lo), np.array(hi)


def params_from_z(z: np.ndarray, var: Variability, recipe: Recipe) -> dict[str, np.ndarray]:
    """Model parameters for z (m, k): each (m,) array, recipe values broadcast."""
    z = np.atleast_2d(z)
    p = {n: d.mean * (1.0 + d.cv * z[:, j]) for j, (n, d) in enumerate(prior(var).items())}
    m = z.shape[0]
    p["temperature_pre_shift_C"] = np.full(m, recipe.temperature_pre_C)
    p["temperature_post_shift_C"] = np.full(m, recipe.temperature_post_C)
    p["qo2_pmol_cell_h"] = np.full(m, var.qo2_pmol_cell_h.mean)
    return p


def setpoints(recipe: Recipe) -> Setpoints:
    """Controlled conditions of the recipe."""
    return Setpoints(recipe.do_setpoint_pct, recipe.ph_setpoint, recipe.feed_glucose_g_L)


def replay(
    p: dict[str, np.ndarray], hist: History, recipe: Recipe, kin: Kinetics
) -> dict[str, np.ndarray]:
    """Model records (now_h + 1, m) along the batch's own feed and temperature history."""
    m = p["mu_max_1_h"].shape[0]
    x0 = {k: np.repeat(v, m) for k, v in hist.x0.items()}
    x0["xv"] = x0["xv"] * p["xv0_scale"]
    sp = setpoints(recipe)
    return integrate(
        p, x0, 0, hist.now_h, lambda h, x: hist.feed_mL_h[h], lambda h: hist.temp_sp_C[h], sp,
        kin, base_mL_h=lambda h: hist.base_mL_h[h],
    )  # fmt: skip


def _residuals(rec: dict[str, np.ndarray], hist: History, z: np.ndarray) -> np.ndarray:
    """(n_res, m) scaled residuals of the assays and the prior."""
    a = hist.assays
    rows = np.clip(np.round(a["time_h"].to_numpy(dtype=float)).astype(int), 0, hist.now_h)
    out = []
    for col, state, off, sd in RESIDUALS:
        y = a[col].to_numpy(dtype=float)
        ok = np.isfinite(y) & (rows > 0)
        model = rec[state][rows[ok]]
        out.append((np.log(model + off) - np.log(y[ok] + off)[:, None]) / sd)
    via = a["viability_pct"].to_numpy(dtype=float)
    ok = np.isfinite(via) & (rows > 0)
    xv, xd = rec["xv"][rows[ok]], rec["xd"][rows[ok]]
    out.append((100.0 * xv / np.maximum(xv + xd, 1e-9) - via[ok][:, None]) / VIABILITY_SD_PCT)
    out.append(np.atleast_2d(z).T)
    return np.concatenate(out, axis=0)


@dataclass(frozen=True)
class Fit:
    """A MAP estimate: ``z`` (k,), the parameters ``p`` (each (1,)), the final cost."""

    z: np.ndarray
    p: dict[str, np.ndarray]
    cost: float


def fit_parameters(
    hist: History,
    recipe: Recipe,
    var: Variability,
    kin: Kinetics,
    z0: np.ndarray | None = None,
    max_nfev: int = 12,
) -> Fit:
    """MAP estimate of ``ESTIMATED`` from the history (warm start from ``z0``)."""
    lo, hi = z_bounds(var)
    k = lo.size
    z_start = np.clip(np.zeros(k) if z0 is None else np.asarray(z0, float), lo + 1e-6, hi - 1e-6)
    if hist.now_h < 1 or len(hist.assays) < 2:
        return Fit(z_start, params_from_z(z_start, var, recipe), 0.0)
    step = 1e-3

    def fun(z: np.ndarray) -> np.ndarray:
        p = params_from_z(z[None, :], var, recipe)
        return _residuals(replay(p, hist, recipe, kin), hist, z[None, :])[:, 0]

    def jac(z: np.ndarray) -> np.ndarray:
        zz = np.repeat(z[None, :], k + 1, axis=0)
        zz[1:] += step * np.eye(k)
        r = _residuals(replay(params_from_z(zz, var, recipe), hist, recipe, kin), hist, zz)
        return (r[:, 1:] - r[:, :1]) / step

    sol = least_squares(fun, z_start, jac=jac, bounds=(lo, hi), method="trf", max_nfev=max_nfev)
    return Fit(sol.x, params_from_z(sol.x[None, :], var, recipe), float(sol.cost))
