"""``kernel_plan``: kernel ridge regression (RBF) on the plan-physics design, per origin day.

The same design as ``ridge_physics`` (:class:`~forecaster.models.ladder.physics.
PlanDesignRung`: assay history, plan values, plan physics; standardised), but the log
harvest titer is a smooth nonlinear function of it: ``f(z) = mean + sum_i a_i k(z, z_i)``
with ``k(z, z') = exp(-gamma * |z - z'|^2 / P)`` over the n training batches. The penalty
``alpha`` and the width ``gamma`` are chosen inside ``fit`` by k-fold cross-validation over
the training batches (Cholesky solves on one BLAS thread: the matrices are small).

Fitted state per day, as plain arrays: the standardised training points ``(n, P)``, the
dual coefficients ``(n,)``, the mean, ``gamma`` and ``alpha``; no pickled estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import threadpool_limits

from forecaster.models.ladder.physics import PlanDesignRung

#: penalties tried (on standardised features, log-titer target)
KERNEL_ALPHAS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: widths tried, per feature: ``gamma = g / P`` (small g: nearly linear + quadratic)
KERNEL_GAMMAS: tuple[float, ...] = (3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
#: folds of the hyper-parameter search (fewer when there are fewer training batches)
CV_FOLDS = 5
#: seed of the fold assignment (the search is deterministic)
CV_SEED = 0
#: decimals kept of the standardised training points (the stored state)
TRAIN_DECIMALS = 6


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    """``(n, m)`` RBF kernel ``exp(-gamma |a_i - b_j|^2)`` of ``a (n, P)`` and ``b (m, P)``."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-gamma * np.maximum(sq, 0.0))


def solve_dual(k: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]) -> list[np.ndarray]:
    """Dual coefficients ``(n,)`` of ``(K + alpha I) a = y`` for each ``alpha`` (Cholesky;
    K is positive semi-definite, so ``K + alpha I`` is positive definite for alpha > 0)."""
    eye = np.eye(k.shape[0])
    return [cho_solve(cho_factor(k + a * eye, lower=True), y) for a in alphas]


def choose_hyper(
    z: np.ndarray,
    y: np.ndarray,
    alphas: tuple[float, ...] = KERNEL_ALPHAS,
    gammas: tuple[float, ...] = KERNEL_GAMMAS,
    folds: int = CV_FOLDS,
    seed: int = CV_SEED,
) -> tuple[float, float, float]:
    """``(alpha, gamma, cv mse)`` of the lowest k-fold squared error over the grid.

    Args:
        z: ``(n, P)`` standardised features; y: ``(n,)`` targets (log harvest titer).
        gammas: per-feature widths; the kernel uses ``g / P``.
    """
    n, p = z.shape
    k = max(2, min(folds, n))
    fold = np.random.default_rng(seed).permutation(n) % k
    err = np.zeros((len(gammas), len(alphas)))
    for f in range(k):
        tr, va = fold != f, fold == f
        mu = y[tr].mean()
        for gi, g in enumerate(gammas):
            ktr = rbf_kernel(z[tr], z[tr], g / p)
            kva = rbf_kernel(z[va], z[tr], g / p)
            for ai, dual in enumerate(solve_dual(ktr, y[tr] - mu, alphas)):
                err[gi, ai] += float(np.sum((kva @ dual + mu - y[va]) ** 2))
    gi, ai = np.unravel_index(int(np.argmin(err)), err.shape)
    return float(alphas[ai]), float(gammas[gi]) / p, float(err[gi, ai] / n)


class KernelPlan(PlanDesignRung):
    """``kernel_plan``: RBF kernel ridge on the plan-physics design, one model per day.

    Each day's model: ``{"train" (n, P), "dual" (n,), "offset", "gamma", "alpha",
    "cv_mse"}`` (``gamma`` already divided by P).
    """

    name = "kernel_plan"

    def _fit_day(self, z: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        # the training points are the state: 6 decimals of a standardised feature halve
        # its JSON and change nothing that matters (fitted on the rounded points, so a
        # reloaded rung predicts exactly as the fitted one)
        z = np.round(z, TRAIN_DECIMALS)
        # small dense solves: one BLAS thread is faster than several contending for cores
        with threadpool_limits(1):
            alpha, gamma, mse = choose_hyper(z, y)
            offset = float(y.mean())
            dual = solve_dual(rbf_kernel(z, z, gamma), y - offset, (alpha,))[0]
        return {
            "train": z,
            "dual": dual,
            "offset": offset,
            "gamma": gamma,
            "alpha": alpha,
            "cv_mse": mse,
        }

    def _predict_day(self, model: Mapping[str, Any], z: np.ndarray) -> np.ndarray:
        k = rbf_kernel(np.atleast_2d(z), np.atleast_2d(model["train"]), float(model["gamma"]))
        return k @ model["dual"] + float(model["offset"])
