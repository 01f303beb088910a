"""PCA batch monitor: Hotelling T^2 and SPE with control limits, fitted on good batches.

The classical multivariate statistical process control baseline:

- Each variable is centred and scaled by its mean and standard deviation *at the same hour*
  over the good batches (the batch-wise normalisation of Nomikos & MacGregor 1994/1995,
  "Monitoring batch processes using multiway PCA", AIChE J. 40:1361; Technometrics 37:41,
  i.e. deviations from the golden-batch trajectory), then the rows of all batches are
  stacked variable-wise (Wold et al. 1998, "Modelling and diagnostics of batch processes
  and analogous kinetic experiments", Chemom. Intell. Lab. Syst. 44:331) and one PCA is
  fitted. This needs no imputation of the future for a running batch.
- Hotelling T^2 limit: ``A (n^2-1) / (n (n-A)) F_{A, n-A}(alpha)`` with n the rows of the
  unfolded good batches (Tracy, Young & Mason 1992, J. Qual. Technol. 24:88).
- SPE limit per hour: ``g chi^2_h(alpha)`` with ``g = v / 2m`` and ``h = 2m^2 / v`` from the
  mean m and variance v of the training SPE at that hour (Nomikos & MacGregor 1995).
- Contributions: squared residual per variable for SPE, ``|z_j (P Lambda^-1 P^T z)_j|`` for
  T^2 (Qin 2003, "Statistical process monitoring: basics and beyond", J. Chemom. 17:480).

The monitor score is ``max(T^2 / T^2_lim, SPE / SPE_lim)`` (1 = on a control limit); its alarm
threshold is calibrated on fault-free validation batches like the autoencoder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import stats

from forecaster.anomaly.config import PCAConfig
from forecaster.anomaly.features import FeatureSpec
from forecaster.anomaly.scorer import ScorerInput, ScorerResult, expected_readings


@dataclass
class PCAResult:
    """Statistics of the rows of one batch: t2, spe, score (T,); contrib (T, V) shares."""

    t2: np.ndarray
    spe: np.ndarray
    score: np.ndarray
    contrib: np.ndarray
    expected: np.ndarray  # (T, V) reference mean (golden batch) at each row, scaled units


@dataclass
class PCAMonitor:
    """Fitted monitor; every attribute is a plain array or number (see :meth:`arrays`).

    Attributes:
        dt_h: hours per row of the reference grid.
        mean, std: (H, V) per-hour reference of the good batches (scaled feature units).
        loadings: (V, A); eigvals: (A,) variances of the scores.
        t2_limit: scalar; spe_limit: (H,) per-hour SPE limit.
    """

    dt_h: float
    mean: np.ndarray
    std: np.ndarray
    loadings: np.ndarray
    eigvals: np.ndarray
    t2_limit: float
    spe_limit: np.ndarray
    n_batches: int
    alpha: float

    @classmethod
    def fit(cls, batches: list[tuple[np.ndarray, np.ndarray]], cfg: PCAConfig) -> PCAMonitor:
        """Fit on good batches ``[(t_h: (T,), x: (T, V)), ...]`` (scaled signals, no NaN)."""
        if len(batches) < 3:
            raise ValueError(f"the PCA monitor needs at least 3 good batches, got {len(batches)}")
        dt = float(np.median(np.concatenate([np.diff(t) for t, _ in batches if len(t) > 1])))
        n_hours = 1 + max(_hour_index(t, dt, 10**9).max() for t, _ in batches)
        v = batches[0][1].shape[1]
        s1, s2, n = np.zeros((n_hours, v)), np.zeros((n_hours, v)), np.zeros((n_hours, 1))
        for t, x in batches:
            h = _hour_index(t, dt, n_hours)
            np.add.at(s1, h, x)
            np.add.at(s2, h, x**2)
            np.add.at(n, h, 1.0)
        s1, s2, n = (_smooth(a, cfg.smooth_h) for a in (s1, s2, n))
        mean = s1 / np.maximum(n, 1e-9)
        std = np.sqrt(np.maximum(s2 / np.maximum(n, 1e-9) - mean**2, 0.0))
        floor = np.maximum(0.1 * np.median(std, axis=0, keepdims=True), 1e-3)
        std = np.maximum(std, floor)
        z_all = [
            (
                _hour_index(t, dt, n_hours),
                (x - mean[_hour_index(t, dt, n_hours)]) / std[_hour_index(t, dt, n_hours)],
            )
            for t, x in batches
        ]
        z = np.concatenate([zz for _, zz in z_all])
        cov = z.T @ z / max(len(z) - 1, 1)
        w, vec = np.linalg.eigh(cov)
        order = np.argsort(w)[::-1]
        w, vec = np.maximum(w[order], 1e-9), vec[:, order]
        share = np.cumsum(w) / w.sum()
        a = int(min(cfg.max_components, np.searchsorted(share, cfg.explained_variance) + 1, v - 1))
        a = max(a, 1)
        p, lam = vec[:, :a], w[:a]
        nb, n = len(batches), len(z)  # rows are the observations of the unfolded matrix
        t2_lim = float(a * (n**2 - 1) / (n * (n - a)) * stats.f.ppf(cfg.alpha, a, n - a))
        spe_sum, spe_sq, spe_n = np.zeros(n_hours), np.zeros(n_hours), np.zeros(n_hours)
        for h, zz in z_all:
            e = zz - (zz @ p) @ p.T
            spe = (e**2).sum(axis=1)
            np.add.at(spe_sum, h, spe)
            np.add.at(spe_sq, h, spe**2)
            np.add.at(spe_n, h, 1.0)
        spe_sum, spe_sq, spe_n = (
            _smooth(a_[:, None], cfg.smooth_h)[:, 0] for a_ in (spe_sum, spe_sq, spe_n)
        )
        m = spe_sum / np.maximum(spe_n, 1e-9)
        var = np.maximum(spe_sq / np.maximum(spe_n, 1e-9) - m**2, 1e-12)
        g, dof = var / (2 * np.maximum(m, 1e-12)), 2 * m**2 / var
        spe_lim = g * stats.chi2.ppf(cfg.alpha, np.maximum(dof, 1e-3))
        return cls(dt, mean, std, p, lam, t2_lim, np.maximum(spe_lim, 1e-9), nb, cfg.alpha)

    def score(self, t: np.ndarray, x: np.ndarray, ignore: np.ndarray | None = None) -> PCAResult:
        """Statistics of rows at hours ``t: (T,)`` with signals ``x: (T, V)``; row-wise causal.

        ``ignore: (T, V)`` bool marks readings to leave out (a set-point transient). They are
        treated as missing: replaced by their conditional mean given the row's other
        readings under the fitted model, and given no contribution.
        """
        h = _hour_index(t, self.dt_h, len(self.mean))
        z = (x - self.mean[h]) / self.std[h]
        if ignore is not None and np.any(ignore):
            z = self._fill_missing(z, np.asarray(ignore, dtype=bool))
        sc = z @ self.loadings
        e = z - sc @ self.loadings.T
        t2 = (sc**2 / self.eigvals).sum(axis=1)
        spe = (e**2).sum(axis=1)
        r_t2, r_spe = t2 / self.t2_limit, spe / self.spe_limit[h]
        c_spe = e**2
        c_t2 = np.abs(z * ((sc / self.eigvals) @ self.loadings.T))
        c = np.where((r_spe >= r_t2)[:, None], c_spe, c_t2)
        if ignore is not None:
            c = np.where(ignore, 0.0, c)
        tot = c.sum(axis=1, keepdims=True)
        return PCAResult(
            t2, spe, np.maximum(r_t2, r_spe), c / np.where(tot > 0, tot, 1.0), self.mean[h]
        )

    def _fill_missing(self, z: np.ndarray, miss: np.ndarray) -> np.ndarray:
        """``z: (T, V)`` with the ``miss`` entries replaced by ``E[z_miss | z_observed]``.

        The covariance of the standardised signals is taken as that of probabilistic PCA
        (Tipping & Bishop 1999, J. R. Stat. Soc. B 61:611): ``P Lambda P^T + s^2 I`` with
        ``s^2`` the mean variance the kept components leave out. A variable that shares no
        component with the others (the temperature deviation here) is thus filled with its
        reference mean, a correlated one with what the others imply; a least-squares
        projection on the kept components instead blows up when a component is mostly the
        missing variable.
        """
        z = z.copy()
        p, lam = self.loadings, self.eigvals
        v = p.shape[0]
        s2 = max((v - float(lam.sum())) / max(v - len(lam), 1), 1e-6)
        cov = (p * lam) @ p.T + s2 * np.eye(v)
        for pattern in np.unique(miss[miss.any(axis=1)], axis=0):
            rows, obs = np.flatnonzero((miss == pattern).all(axis=1)), ~pattern
            coef = np.linalg.solve(cov[np.ix_(obs, obs)], cov[np.ix_(obs, pattern)])
            z[np.ix_(rows, pattern)] = z[np.ix_(rows, obs)] @ coef
        return z

    def arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (loadable with ``allow_pickle=False``)."""
        return {
            "dt_h": np.array(self.dt_h), "mean": self.mean, "std": self.std,
            "loadings": self.loadings, "eigvals": self.eigvals,
            "t2_limit": np.array(self.t2_limit), "spe_limit": self.spe_limit,
            "n_batches": np.array(self.n_batches), "alpha": np.array(self.alpha),
        }  # fmt: skip

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> PCAMonitor:
        return cls(
            float(a["dt_h"]), a["mean"], a["std"], a["loadings"], a["eigvals"],
            float(a["t2_limit"]), a["spe_limit"], int(a["n_batches"]), float(a["alpha"]),
        )  # fmt: skip


class PCAScorer:
    """The PCA monitor as a :class:`~forecaster.anomaly.scorer.Scorer` (registered as
    ``pca``; config section :class:`~forecaster.anomaly.config.PCAConfig`).

    It reads the scored variables of the :class:`FeatureSpec` (scaled units), treats
    readings within ``setpoint_transient_h`` of a set-point change as missing, and expects
    the golden-batch trajectory (the per-hour reference mean).

    Args:
        monitor: the fitted :class:`PCAMonitor` (None before :meth:`fit`).
        spec: the detector's feature layout.
        setpoint_transient_h: hours after a set-point step during which that variable is
            left out.
        cfg: settings used by :meth:`fit`.
    """

    name: ClassVar[str] = "pca"
    label: ClassVar[str] = "pca"
    config_class: ClassVar[type] = PCAConfig
    context_rows: int = 0  # row-wise: no look-back

    def __init__(
        self,
        monitor: PCAMonitor | None,
        spec: FeatureSpec,
        setpoint_transient_h: float = 0.0,
        cfg: PCAConfig | None = None,
    ) -> None:
        self.monitor, self.spec, self.cfg = monitor, spec, cfg
        self.setpoint_transient_h = float(setpoint_transient_h)
        self.variables = list(spec.variables)

    @classmethod
    def from_config(cls, cfg: PCAConfig, spec: FeatureSpec) -> PCAScorer:
        return cls(None, spec, cfg.threshold.setpoint_transient_h, cfg)

    def fit(
        self,
        train: Sequence[ScorerInput],
        val: Sequence[ScorerInput] = (),
        *,
        seed: int = 0,
        trainer_kwargs: dict[str, Any] | None = None,
        log_dir: Path | None = None,
    ) -> PCAScorer:
        """Fit the monitor on the training batches (deterministic: ``seed`` and ``val``
        are not used)."""
        xs = [(x.t_h, x.feats[:, self.spec.target_idx].astype(float)) for x in train]
        self.monitor = PCAMonitor.fit(xs, self.cfg or PCAConfig())
        return self

    def score(self, x: ScorerInput, start: int = 0) -> ScorerResult:
        feats = x.feats[start:]
        sig = feats[:, self.spec.target_idx].astype(np.float64)
        ignore = self.spec.in_transient(feats, self.setpoint_transient_h)
        r = self.monitor.score(x.t_h[start:], sig, ignore)
        return ScorerResult(r.score, r.contrib, expected_readings(x, self.spec, start, r.expected))

    def summary(self) -> dict[str, Any]:
        m = self.monitor
        return {"t2_limit": m.t2_limit, "n_components": int(m.loadings.shape[1]), "alpha": m.alpha}

    def state_dict(self) -> dict[str, Any]:
        arrays = {k: torch.from_numpy(np.array(v)) for k, v in self.monitor.arrays().items()}
        return {"monitor": arrays, "setpoint_transient_h": self.setpoint_transient_h}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], spec: FeatureSpec) -> PCAScorer:
        arrays = {k: np.asarray(v) for k, v in state["monitor"].items()}
        return cls(PCAMonitor.from_arrays(arrays), spec, float(state["setpoint_transient_h"]))


def _hour_index(t: np.ndarray, dt: float, n: int) -> np.ndarray:
    """Row of the reference grid for hours ``t`` (clipped to the last one)."""
    return np.clip(np.rint(np.asarray(t, float) / dt).astype(int), 0, n - 1)


def _smooth(a: np.ndarray, half: int) -> np.ndarray:
    """Moving sum over +/- ``half`` rows along axis 0 of ``a: (H, V)``."""
    if half <= 0:
        return a
    c = np.cumsum(np.pad(a, ((half + 1, half), (0, 0))), axis=0)
    return c[2 * half + 1 :] - c[: -2 * half - 1]
