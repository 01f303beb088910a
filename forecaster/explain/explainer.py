"""Captum attributions of the sequence model's feed-rate and harvest-titer heads.

Two methods with different assumptions, so users can see when they disagree:

- ``ig``: Integrated Gradients (Sundararajan et al. 2017, arXiv:1703.01365) from a baseline
  input to the prefix, Gauss-Legendre rule with ``n_steps`` points. Gradient based;
  complete by construction (attributions sum to ``f(x) - f(baseline)``), which is checked.
- ``ablation``: Feature Ablation: one input variable (all its features) over one window of
  its history is set to the baseline and the output change is its attribution. Windows are
  counted back from the forecast origin (default: the last 24 h, 24-72 h back, older), so a
  prefix costs ``3 x variables`` forward passes. Perturbation based, no gradients, blind to
  interactions inside a group; within a window the effect is spread evenly over its steps.

Both use the same documented baseline. Default (``train_mean_by_time``): the mean training
batch at the same process hour (every feature averaged over the fault-free training rows in
the same 1-h bin since inoculation), a (hours x features) "golden batch" reference. An
attribution then answers "why does this prediction differ from the one for a typical batch at
the same age", and variables that are the same in every batch at that age (glutamine after
it is exhausted, the clock) get none. Measured on the default run: with a single flat mean
the exhausted glutamine (about -1 SD from its all-time mean in every batch after day 5)
collected 5 % of the feed attribution, as much as the volume the policy reads; with the
time-matched baseline the four policy inputs are the top four. ``train_mean`` (one (F,)
vector: 0 in scaled space for every variable's value) and ``zeros`` are kept as options. Prefixes of equal length are attributed
together in one call. Denormal floats are flushed to zero during attribution: gradients
through long RNN chains decay into the denormal range, where CPU arithmetic is ~10x
slower (measured: backward at 264 steps 6.3 s -> 0.8 s). On CUDA the cuDNN RNN cannot run backward in eval mode, so
attribution runs under ``torch.backends.cudnn.flags(enabled=False)``; the model is never
put in training mode (dropout would make attributions random).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from captum.attr import FeatureAblation, IntegratedGradients

from forecaster import schema
from forecaster.explain.config import METHODS, TARGETS
from forecaster.explain.result import AttributionResult

Tensor = torch.Tensor


class ExplainableModel(Protocol):
    """What the explainer needs from a trained sequence model (``SequenceForecaster``)."""

    net: torch.nn.Module
    prep: object  # Preprocessor: .feature_variables (F,), .n_features

    @property
    def device(self) -> torch.device: ...

    def features(self, rows: pd.DataFrame) -> np.ndarray: ...

    def head_fn(self, target: str) -> Callable[[Tensor], Tensor]: ...


def train_mean_baseline(model: ExplainableModel, batches: Sequence[pd.DataFrame]) -> np.ndarray:
    """(F,) mean of every feature over all rows of ``batches`` (the training batches)."""
    feats = [model.features(b) for b in batches]
    feats = [f for f in feats if len(f)]
    if not feats:
        raise ValueError("train_mean_baseline: no rows in the given training batches")
    return np.concatenate(feats, axis=0).mean(axis=0).astype(np.float32)


def train_mean_by_time_baseline(
    model: ExplainableModel, batches: Sequence[pd.DataFrame]
) -> np.ndarray:
    """(H, F) mean feature vector per 1-h bin of ``time_h`` (bin ``h`` = hours ``h +- 0.5``)
    over the rows of ``batches`` (the training batches), H = last bin seen + 1.

    A bin no batch reaches (a gap in the data) repeats the bin before it.
    """
    sums: np.ndarray | None = None
    for b in batches:
        if len(b) == 0:
            continue
        f = model.features(b).astype(np.float64)
        h = np.clip(np.round(b[schema.TIME].to_numpy(dtype=float)).astype(int), 0, None)
        n_bins = int(h.max()) + 1
        if sums is None:
            sums, counts = np.zeros((n_bins, f.shape[1])), np.zeros(n_bins)
        elif n_bins > len(sums):
            sums = np.vstack([sums, np.zeros((n_bins - len(sums), f.shape[1]))])
            counts = np.concatenate([counts, np.zeros(n_bins - len(counts))])
        np.add.at(sums, h, f)
        np.add.at(counts, h, 1.0)
    if sums is None:
        raise ValueError("train_mean_by_time_baseline: no rows in the given training batches")
    seen = counts > 0
    mean = np.where(seen[:, None], sums / np.maximum(counts, 1.0)[:, None], np.nan)
    last = np.maximum.accumulate(np.where(seen, np.arange(len(seen)), -1))
    first = int(np.flatnonzero(seen)[0])
    mean = mean[np.where(last >= 0, last, first)]
    return mean.astype(np.float32)


def default_baseline(model: ExplainableModel) -> np.ndarray:
    """Baseline without training data: ``model.feature_mean`` if the model carries it, else 0.

    0 is the training mean of every variable's scaled value; only the helper features
    (assay mask, assay age, clock) then differ from ``train_mean_baseline``.
    """
    mean = getattr(model, "feature_mean", None)
    if mean is not None:
        return np.asarray(mean, dtype=np.float32).reshape(-1)
    return np.zeros(model.prep.n_features, dtype=np.float32)


def load_baseline(run_dir: str | Path) -> np.ndarray | None:
    """(F,) or (H, F) baseline the training run used (``<run>/explain/baseline.json``); None if absent.

    Pass it to :func:`explain_batches` so predict explains against the same reference as
    the training report.
    """
    path = Path(run_dir) / "explain" / "baseline.json"
    if not path.exists():
        return None
    return np.asarray(json.loads(path.read_text())["values"], dtype=np.float32)


class SequenceExplainer:
    """Attributes the sequence model's predictions to its input variables over time.

    Args:
        model: trained sequence model (``SequenceForecaster`` or anything with
            ``net``, ``prep``, ``device``, ``features(rows)``, ``head_fn(target)``).
        method: ``ig`` or ``ablation``.
        n_steps: IG interpolation steps.
        baseline: (F,) reference input in scaled feature space; None = :func:`default_baseline`.
        ablation_windows_h: window edges of ``ablation`` in hours back from the origin,
            ascending: ``[24, 72]`` = last 24 h, 24-72 h back, older.
        internal_batch_size: prefixes x IG steps (or x ablations) per network pass.
    """

    def __init__(
        self,
        model: ExplainableModel,
        method: str = "ig",
        *,
        n_steps: int = 16,
        baseline: np.ndarray | None = None,
        ablation_windows_h: Sequence[float] = (24.0, 72.0),
        internal_batch_size: int = 1024,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        self.model, self.method, self.n_steps = model, method, int(n_steps)
        self.feature_variables = list(model.prep.feature_variables)
        f = len(self.feature_variables)
        base = default_baseline(model) if baseline is None else np.asarray(baseline, np.float32)
        if base.ndim not in (1, 2) or base.shape[-1] != f or base.shape[0] == 0:
            raise ValueError(
                f"baseline has shape {base.shape}; expected ({f},) = (features,) or "
                f"(hours, {f}) = one reference row per hour since inoculation"
            )
        self.baseline = base
        self.ablation_windows_h = np.sort(np.asarray(ablation_windows_h, dtype=float))
        self.internal_batch_size = int(internal_batch_size)

    # ------------------------------------------------------------------ public
    def explain(
        self,
        batches: Sequence[pd.DataFrame],
        target: str,
        origins_h: Sequence[float] | None = None,
    ) -> list[AttributionResult]:
        """Attributions of ``target`` for every batch and origin.

        Args:
            batches: rows of one batch each (canonical columns).
            target: ``feed`` or ``titer``.
            origins_h: forecast origins (h); a prefix ends at the last row with
                ``time_h <= origin``; origins after a batch's last row are skipped.
                None: one prediction per batch at its last row.

        Returns:
            One result per (batch, origin), batches in input order, origins ascending.
        """
        if target not in TARGETS:
            raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
        prefixes: list[tuple[str, np.ndarray, np.ndarray]] = []  # (batch_id, time (L,), x (L, F))
        for rows in batches:
            if len(rows) == 0:
                continue
            rows = rows.sort_values(schema.TIME)
            bid = (
                str(rows[schema.BATCH_ID].iloc[0])
                if schema.BATCH_ID in rows
                else str(len(prefixes))
            )
            t = rows[schema.TIME].to_numpy(dtype=float)
            x = self.model.features(rows)
            for n in _prefix_lengths(t, origins_h):
                prefixes.append((bid, t[:n], x[:n]))
        return self._core(prefixes, target)

    def attribute(self, x: np.ndarray, target: str, time_h: np.ndarray) -> dict[str, np.ndarray]:
        """Attributions of equal-length prefixes.

        Args:
            x: (B, L, F) scaled features.
            target: ``feed`` or ``titer``.
            time_h: (L,) times of the steps (h), used by the ablation windows (the
                origin is the last step).

        Returns:
            ``attr (B, L, F)``, ``prediction (B,)``, ``baseline_prediction (B,)`` and for IG
            ``delta (B,)`` (sum of attributions minus output difference), all scaled units.
        """
        fn = self.model.head_fn(target)
        dev = self.model.device
        xt = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=dev)
        base = torch.as_tensor(self.baseline_for(time_h), device=dev).expand_as(xt).contiguous()
        with torch.backends.cudnn.flags(enabled=False), _flush_denormal():
            with torch.no_grad():
                pred = fn(xt).float().cpu().numpy()
                pred0 = fn(base).float().cpu().numpy()
            out: dict[str, np.ndarray] = {"prediction": pred, "baseline_prediction": pred0}
            if self.method == "ig":
                attr, delta = IntegratedGradients(fn).attribute(
                    xt,
                    baselines=base,
                    n_steps=self.n_steps,
                    method="gausslegendre",
                    internal_batch_size=max(self.internal_batch_size, self.n_steps),
                    return_convergence_delta=True,
                )
                out["delta"] = delta.detach().float().cpu().numpy()
            else:
                mask, sizes = self._ablation_groups(np.asarray(time_h, dtype=float))
                per_eval = max(1, self.internal_batch_size // max(1, len(x)))
                with torch.no_grad():
                    attr = FeatureAblation(fn).attribute(
                        xt,
                        baselines=base,
                        feature_mask=torch.as_tensor(mask, device=dev)[None],
                        perturbations_per_eval=per_eval,
                    )
                # Captum gives every element of a group the group's whole effect.
                attr = attr / torch.as_tensor(sizes[mask], dtype=attr.dtype, device=dev)
        out["attr"] = attr.detach().float().cpu().numpy()
        return out

    def baseline_for(self, time_h: np.ndarray) -> np.ndarray:
        """Baseline of a prefix with step times ``time_h (L,)``: (F,) or (L, F) (the row of
        each step's hour; hours past the table repeat its last row)."""
        if self.baseline.ndim == 1:
            return self.baseline
        h = np.clip(np.round(np.asarray(time_h, dtype=float)), 0, len(self.baseline) - 1)
        return self.baseline[h.astype(int)]

    # ----------------------------------------------------------------- private
    def _core(
        self, prefixes: list[tuple[str, np.ndarray, np.ndarray]], target: str
    ) -> list[AttributionResult]:
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, (_, t, _) in enumerate(prefixes):
            key: tuple = (len(t),)
            if self.method == "ablation":
                key += tuple(self._windows(t))
            groups[key].append(i)
        results: list[AttributionResult | None] = [None] * len(prefixes)
        for idx in groups.values():
            t = prefixes[idx[0]][1]
            x = np.stack([prefixes[i][2] for i in idx])
            out = self.attribute(x, target, t)
            for k, i in enumerate(idx):
                bid, ti, _ = prefixes[i]
                results[i] = AttributionResult.from_features(
                    out["attr"][k],
                    self.feature_variables,
                    batch_id=bid,
                    target=target,
                    method=self.method,
                    time_h=ti,
                    prediction=float(out["prediction"][k]),
                    baseline_prediction=float(out["baseline_prediction"][k]),
                    convergence_delta=float(out["delta"][k]) if "delta" in out else None,
                )
        return [r for r in results if r is not None]

    def _windows(self, time_h: np.ndarray) -> np.ndarray:
        """(L,) ablation window of every step: 0 = most recent."""
        return np.searchsorted(self.ablation_windows_h, time_h[-1] - time_h, side="right")

    def _ablation_groups(self, time_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Group id (L, F) of every element: (window, variable); and (G,) group sizes."""
        variables = list(dict.fromkeys(self.feature_variables))
        var_id = np.array([variables.index(v) for v in self.feature_variables])
        _, win = np.unique(self._windows(time_h), return_inverse=True)
        mask = win[:, None] * len(variables) + var_id[None, :]
        _, mask = np.unique(mask, return_inverse=True)
        mask = mask.reshape(len(time_h), len(var_id))
        return mask.astype(np.int64), np.bincount(mask.ravel()).astype(np.float32)


@contextmanager
def _flush_denormal() -> Iterator[None]:
    """Flush denormal floats to zero inside the block (torch's default, off, after it)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _prefix_lengths(t: np.ndarray, origins_h: Sequence[float] | None) -> list[int]:
    """Prefix lengths (rows) for the origins that fall inside ``t``'s span, ascending."""
    if origins_h is None:
        return [len(t)]
    out = []
    for o in sorted(float(o) for o in origins_h):
        if o > t[-1] + 1e-6:
            continue
        n = int(np.searchsorted(t, o + 1e-6, side="right"))
        if n > 0:
            out.append(n)
    return out


def explain_batches(
    model: ExplainableModel,
    rows: Sequence[pd.DataFrame],
    target: str = "titer",
    method: str = "ig",
    *,
    origins_h: Sequence[float] | None = None,
    n_steps: int = 16,
    baseline: np.ndarray | None = None,
) -> list[AttributionResult]:
    """Explain the predictions ``predict`` makes for new (possibly running) batches.

    Args:
        model: trained ``SequenceForecaster``.
        rows: one DataFrame of rows per batch.
        target: ``feed`` or ``titer``.
        method: ``ig`` or ``ablation``.
        origins_h: forecast origins (h); None = each batch's last row (the live forecast).
        n_steps: IG steps (16 keeps it fast; completeness error is reported in training).
        baseline: (F,) scaled baseline; None = ``model.feature_mean`` if present, else 0.

    Returns:
        One :class:`AttributionResult` per batch and origin.
    """
    explainer = SequenceExplainer(model, method, n_steps=n_steps, baseline=baseline)
    return explainer.explain(rows, target, origins_h)
