"""Causal reconstruction-error scores of the autoencoder, per time step and per variable.

The score at row t comes from the window of rows t-W+1..t (the first rows of a batch are
padded by repeating row 0), so it never uses a later row. The error of each reconstructed
variable is divided by its mean squared error on fault-free training windows, so every
variable is on the same footing; the score is the mean of these normalised errors (about 1
on normal data) and each variable's share of their sum is its contribution.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from forecaster.anomaly.config import AutoencoderConfig
from forecaster.anomaly.features import (  # noqa: F401  (re-exported: older import paths)
    SETPOINT_OF,
    SETTLE_TAU_H,
    FeatureSpec,
    transform_arrays,
    windows,
)
from forecaster.anomaly.scorer import ScorerInput, ScorerResult, expected_readings
from forecaster.anomaly.step_scale import fit_step_scale, hours_since_step, step_factor
from forecaster.models.autoencoder_net import AutoencoderNet

#: Rows per network pass when scoring many batches (bounds memory: about 10 MB of
#: activations at the default sizes).
CHUNK_ROWS = 4096


@dataclass
class ScoreResult:
    """Scores of the rows of one batch.

    Attributes:
        score: (T,) mean over variables of the normalised squared error of the newest row.
        contrib: (T, V) each variable's share of the row's error (rows sum to 1).
        recon: (T, V) reconstruction in scaled units.
        target: (T, V) scaled values; mask: (T, V) 1 where known.
        err: (T, V) each variable's normalised squared error (its share of the score).
    """

    score: np.ndarray
    contrib: np.ndarray
    recon: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    err: np.ndarray | None = None


class AEScorer:
    """Scores rows with a trained :class:`AutoencoderNet` (a :class:`~forecaster.anomaly.
    scorer.Scorer`, registered as ``autoencoder``; its config section is
    :class:`~forecaster.anomaly.config.AutoencoderConfig`).

    Args:
        net: trained network (put in eval mode here); None before :meth:`fit`.
        spec: feature layout.
        window: W, rows per window.
        err_scale: (H, V) mean squared error of each variable at each hour of the run on
            fault-free training batches (rows past H use the last hour), so start-up
            transients and set-point changes that are normal are not alarms.
        dt_h: hours per row of ``err_scale``.
        top_k: the score is the mean of the ``top_k`` largest normalised errors of a row
            (0 or >= V: the mean over all V variables).
        setpoint_transient_h: for this many hours after a variable's set point changes, its
            error is left out of the score (and of the contributions): the reading lags a
            step (the temperature shift takes an hour or two), which is not a fault. The
            other variables are still scored.
        step_scale: (S, V) factor dividing each variable's error 0..S-1 rows after the
            last set-point step (:mod:`~forecaster.anomaly.step_scale`); None: none
            (detectors saved before it existed).
        hparams: the network's constructor arguments (saved with it).
        cfg: training settings (only needed by :meth:`fit`).
    """

    name: ClassVar[str] = "autoencoder"
    label: ClassVar[str] = "ae"
    config_class: ClassVar[type] = AutoencoderConfig

    def __init__(
        self,
        net: AutoencoderNet | None,
        spec: FeatureSpec,
        window: int,
        err_scale: np.ndarray,
        dt_h: float = 1.0,
        top_k: int = 0,
        setpoint_transient_h: float = 0.0,
        hparams: dict | None = None,
        cfg: AutoencoderConfig | None = None,
        step_scale: np.ndarray | None = None,
    ):
        self.net = net.eval() if net is not None else None
        self.spec, self.window, self.dt_h = spec, int(window), float(dt_h)
        self.err_scale = np.atleast_2d(np.asarray(err_scale, dtype=np.float64))
        self.top_k = int(top_k)
        self.setpoint_transient_h = float(setpoint_transient_h)
        self.hparams, self.cfg = dict(hparams or {}), cfg
        self.step_scale = None if step_scale is None else np.asarray(step_scale, np.float64)
        self.variables = list(spec.variables)

    # ------------------------------------------------------------ Scorer protocol
    @property
    def context_rows(self) -> int:
        return self.window

    @classmethod
    def from_config(cls, cfg: AutoencoderConfig, spec: FeatureSpec) -> AEScorer:
        ones = np.ones((1, len(spec.variables)))
        transient = cfg.threshold.setpoint_transient_h
        return cls(None, spec, cfg.window_h, ones, 1.0, cfg.score_top_k, transient, cfg=cfg)

    def fit(
        self,
        train: Sequence[ScorerInput],
        val: Sequence[ScorerInput],
        *,
        seed: int = 0,
        trainer_kwargs: dict[str, Any] | None = None,
        log_dir: Path | None = None,
    ) -> AEScorer:
        """Train the network on the training batches (``val`` for the validation loss),
        then fit the per-hour error scale and the step scale on the training batches."""
        from forecaster.anomaly.train_ae import train_autoencoder  # Lightning: only to fit

        cfg = self.cfg or AutoencoderConfig(window_h=self.window, score_top_k=self.top_k)
        torch.manual_seed(seed)
        feats = [x.feats for x in train]
        net, self.hparams = train_autoencoder(
            feats, [x.feats for x in val], self.spec, cfg, seed, trainer_kwargs, log_dir
        )
        batches = [(x.t_h, x.feats) for x in train]
        self.err_scale, self.dt_h = AEScorer.fit_err_scale(
            net, self.spec, self.window, batches, method=cfg.err_norm
        )
        self.net = net.eval()
        self.fit_step(batches, cfg.step_window_h)
        return self

    def fit_step(self, batches: list[tuple[np.ndarray, np.ndarray]], window_h: float) -> AEScorer:
        """Fit :attr:`step_scale` on fault-free ``[(t_h: (T,), feats: (T, F_all)), ...]``
        with the network and per-hour scale as they are (``window_h`` 0: none)."""
        plain = AEScorer(self.net, self.spec, self.window, self.err_scale, self.dt_h,
                         self.top_k, self.setpoint_transient_h)  # fmt: skip
        pairs = [
            (hours_since_step(self.spec, f), plain.score_features(f, t).err) for t, f in batches
        ]
        self.step_scale = fit_step_scale(pairs, self.dt_h, window_h)
        return self

    def score(self, x: ScorerInput, start: int = 0) -> ScorerResult:
        """Protocol form of :meth:`score_features` (rows ``start:``), with expected
        readings from the reconstruction."""
        r = self.score_features(x.feats, x.t_h, slice(start, None) if start else None)
        return ScorerResult(r.score, r.contrib, expected_readings(x, self.spec, start, r.recon))

    def summary(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "hparams": dict(self.hparams),
            "window": self.window,
            "err_scale": torch.from_numpy(self.err_scale.copy()),
            "dt_h": self.dt_h,
            "top_k": self.top_k,
            "setpoint_transient_h": self.setpoint_transient_h,
            "step_scale": None
            if self.step_scale is None
            else torch.from_numpy(self.step_scale.copy()),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], spec: FeatureSpec) -> AEScorer:
        net = AutoencoderNet(**state["hparams"])
        net.load_state_dict(state["net"])
        err = state["err_scale"]
        err = err.numpy() if isinstance(err, torch.Tensor) else np.asarray(err, dtype=np.float64)
        step = state.get("step_scale")  # absent before format 3
        step = step.numpy() if isinstance(step, torch.Tensor) else step
        return cls(net, spec, int(state["window"]), err, float(state["dt_h"]),
                   int(state["top_k"]), float(state["setpoint_transient_h"]), state["hparams"],
                   step_scale=step)  # fmt: skip

    # ------------------------------------------------------------------ scoring

    @torch.inference_mode()
    def reconstruct_last(self, feats: np.ndarray, rows: slice | None = None) -> np.ndarray:
        """Reconstruction (n, V) of the newest row of the windows ending at ``rows`` (a
        slice ``lo:``; default all rows) of ``feats: (T, F_all)``."""
        lo = (rows.start or 0) if rows is not None else 0
        if len(feats) - lo <= 0:
            return np.zeros((0, len(self.spec.variables)), np.float32)
        # rows before ``lo`` are context only: the window of row t starts at padded row t
        padded = self._padded(feats)[lo:]
        return self.net.reconstruct_sliding(torch.from_numpy(padded), self.window).numpy()

    @torch.inference_mode()
    def reconstruct_many(
        self, feats: Sequence[np.ndarray], chunk_rows: int = CHUNK_ROWS
    ) -> list[np.ndarray]:
        """:meth:`reconstruct_last` of every row of several batches, many at a time.

        The padded rows of consecutive batches are concatenated and go through the network
        together, at most about ``chunk_rows`` rows per pass (memory stays bounded); the
        windows that straddle two batches are dropped. Each batch's result equals its own
        :meth:`reconstruct_last` to float rounding.

        Args:
            feats: per batch ``(T_b, F_all)`` features.
            chunk_rows: rows per network pass (a longer batch goes alone).

        Returns:
            per batch ``(T_b, V)`` float32 reconstructions in scaled units.
        """
        out: list[np.ndarray] = [np.zeros((0, len(self.spec.variables)), np.float32)] * len(feats)
        group: list[int] = []
        size = 0
        for b, f in enumerate([*feats, None]):
            if group and (f is None or size + len(f) + self.window - 1 > chunk_rows):
                parts = [self._padded(feats[i]) for i in group]
                rec = self.net.reconstruct_sliding(torch.from_numpy(np.concatenate(parts)),
                                                   self.window).numpy()  # fmt: skip
                at = 0
                for i, p in zip(group, parts):
                    out[i] = rec[at : at + len(feats[i])]
                    at += len(p)
                group, size = [], 0
            if f is not None and len(f):
                group.append(b)
                size += len(f) + self.window - 1
        return out

    def _padded(self, feats: np.ndarray) -> np.ndarray:
        """(W - 1 + T, F) float32 network inputs, the first row repeated W - 1 times in front
        (the window of row t is padded rows t .. t + W - 1)."""
        x = feats[:, self.spec.input_idx]
        x = np.concatenate([np.repeat(x[:1], self.window - 1, axis=0), x])
        return np.require(x, np.float32, ["C", "W"])

    def score_many(self, xs: Sequence[ScorerInput]) -> list[ScorerResult]:
        """:meth:`score` of several batches (all rows), the network run over many at once
        (:meth:`reconstruct_many`); equal to scoring each alone, to float rounding."""
        recons = self.reconstruct_many([x.feats for x in xs])
        out = []
        for x, rec in zip(xs, recons):
            r = self.score_features(x.feats, x.t_h, recon=rec)
            out.append(
                ScorerResult(r.score, r.contrib, expected_readings(x, self.spec, 0, r.recon))
            )
        return out

    def score_features(
        self,
        feats: np.ndarray,
        t_h: np.ndarray,
        rows: slice | None = None,
        recon: np.ndarray | None = None,
    ) -> ScoreResult:
        """Scores of the rows ``rows`` (default all; a slice ``lo:``) of ``feats: (T, F_all)``
        at hours ``t_h: (T,)``. All windows go through the network in one forward pass,
        unless ``recon`` (n, V), their reconstruction, is given (:meth:`score_many`)."""
        if recon is None:
            recon = self.reconstruct_last(feats, rows)
        recon = recon.astype(np.float64)
        y, m = self.spec.targets(feats)
        m = m * ~self.spec.in_transient(feats, self.setpoint_transient_h)
        t_h = np.asarray(t_h, dtype=float)
        if rows is not None:
            y, m, t_h = y[rows], m[rows], t_h[rows]
        h = np.clip(np.rint(t_h / self.dt_h).astype(int), 0, len(self.err_scale) - 1)
        err = (recon - y) ** 2 * m / self.err_scale[h]
        if self.step_scale is not None:
            since = hours_since_step(self.spec, feats)
            since = since[rows] if rows is not None else since
            err = err / step_factor(self.step_scale, self.dt_h, since, err.shape[1])
        total = err.sum(axis=1)
        contrib = err / np.where(total > 0, total, 1.0)[:, None]
        k = self.top_k
        if 0 < k < err.shape[1]:
            score = np.partition(err, err.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        else:
            score = total / err.shape[1]
        return ScoreResult(score, contrib, recon, y, m, err)

    @staticmethod
    def fit_err_scale(
        net: AutoencoderNet,
        spec: FeatureSpec,
        window: int,
        batches: list[tuple[np.ndarray, np.ndarray]],
        smooth_h: int = 3,
        floor: float = 0.25,
        method: str = "mean",
    ) -> tuple[np.ndarray, float]:
        """Per-hour mean (or median) squared error of each variable on fault-free batches.

        Args:
            batches: ``[(t_h: (T,), feats: (T, F_all)), ...]``.
            smooth_h: half-width (rows) of the moving window pooling neighbouring hours.
            floor: lower bound, as a share of the variable's overall mean squared error.
            method: ``mean`` or ``median`` (of the squared errors pooled per hour: a few
                unusual training batches do not inflate it).

        Returns:
            ``(err_scale: (H, V), dt_h)``.
        """
        dt = (
            float(np.median(np.concatenate([np.diff(t) for t, _ in batches if len(t) > 1])))
            if batches
            else 1.0
        )
        n_h = 1 + max(int(np.rint(t[-1] / dt)) for t, _ in batches)
        v = len(spec.variables)
        ones = AEScorer(net, spec, window, np.ones((1, v)), dt)
        se, n = np.zeros((n_h, v)), np.zeros((n_h, v))
        per_batch = np.full((len(batches), n_h, v), np.nan) if method == "median" else None
        for i, (t, f) in enumerate(batches):
            r = ones.score_features(f, t)
            h = np.clip(np.rint(t / dt).astype(int), 0, n_h - 1)
            e = (r.recon - r.target) ** 2 * r.mask
            np.add.at(se, h, e)
            np.add.at(n, h, r.mask)
            if per_batch is not None:
                per_batch[i, h] = np.where(r.mask > 0, e, np.nan)
        if per_batch is not None:
            return AEScorer._median_scale(per_batch, smooth_h, floor), dt
        k = np.ones(2 * smooth_h + 1)
        se_s = np.stack([np.convolve(se[:, j], k, mode="same") for j in range(v)], axis=1)
        n_s = np.stack([np.convolve(n[:, j], k, mode="same") for j in range(v)], axis=1)
        overall = se.sum(0) / np.maximum(n.sum(0), 1.0)
        scale = np.where(n_s > 0, se_s / np.maximum(n_s, 1.0), overall)
        return np.maximum(scale, np.maximum(floor * overall, 1e-6)), dt

    @staticmethod
    def _median_scale(per_batch: np.ndarray, smooth_h: int, floor: float) -> np.ndarray:
        """(H, V) median squared error over the batches' rows within ``smooth_h`` of each
        hour, from ``per_batch: (B, H, V)`` (NaN where unknown)."""
        n_h, v = per_batch.shape[1:]
        with warnings.catch_warnings():  # all-NaN slices (an assay not yet taken) -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmedian(per_batch.reshape(-1, v), axis=0)
            overall = np.where(np.isfinite(overall), overall, 1.0)
            scale = np.stack(
                [
                    np.nanmedian(
                        per_batch[:, max(0, h - smooth_h) : h + smooth_h + 1].reshape(-1, v),
                        axis=0,
                    )
                    for h in range(n_h)
                ]
            )
        scale = np.where(np.isfinite(scale), scale, overall)
        return np.maximum(scale, np.maximum(floor * overall, 1e-6))
