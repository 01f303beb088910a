"""Sanity checks of attributions, reported rather than assumed.

- IG completeness: the attributions of a prediction should sum to ``f(x) - f(baseline)``;
  the relative error over all explained predictions is ``sum |delta| / sum |f(x) - f(b)|``
  (a pooled ratio: per-prediction ratios explode where ``f(x) ~ f(b)``).
- Model randomisation (Adebayo et al. 2018, arXiv:1810.03292): attributions of the same
  inputs under a model whose weights are re-initialised must differ clearly from the
  trained model's. As the reference ("self-similarity") the trained model is compared with
  itself after a small weight perturbation (1 % of each tensor's spread), which should
  barely change a faithful explanation. Similarity is the Spearman rank correlation of the
  (time x variable) absolute attribution maps, averaged over predictions.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from scipy.stats import spearmanr

from forecaster.explain.result import AttributionResult


def completeness_rel_error(results: Sequence[AttributionResult]) -> float:
    """Pooled IG completeness error ``sum |delta| / sum |f(x) - f(baseline)|`` (NaN if none)."""
    deltas = [abs(r.convergence_delta) for r in results if r.convergence_delta is not None]
    diffs = [
        abs(r.prediction - r.baseline_prediction)
        for r in results
        if r.convergence_delta is not None
    ]
    if not deltas or sum(diffs) == 0:
        return float("nan")
    return float(sum(deltas) / sum(diffs))


def map_similarity(a: AttributionResult, b: AttributionResult, level: str = "map") -> float:
    """Spearman correlation of two results' absolute attributions (NaN if one is constant).

    Args:
        a, b: results of the same prediction.
        level: ``map`` compares the (time x variable) absolute maps, ``variables`` the
            per-variable shares.
    """
    if a.magnitude.shape != b.magnitude.shape:
        raise ValueError(
            f"attribution maps differ in shape: {a.magnitude.shape} vs {b.magnitude.shape}"
        )
    if level == "map":
        x, y = a.magnitude.ravel(), b.magnitude.ravel()
    elif level == "variables":
        x, y = a.magnitude.sum(axis=0), b.magnitude.sum(axis=0)
    else:
        raise ValueError(f"level must be 'map' or 'variables', got {level!r}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def mean_similarity(
    a: Sequence[AttributionResult], b: Sequence[AttributionResult], level: str = "map"
) -> float:
    """Mean :func:`map_similarity` over paired results (same batches and origins, in order)."""
    if len(a) != len(b):
        raise ValueError(f"need paired results, got {len(a)} and {len(b)}")
    sims = [map_similarity(x, y, level) for x, y in zip(a, b)]
    sims = [s for s in sims if np.isfinite(s)]
    return float(np.mean(sims)) if sims else float("nan")


@contextmanager
def modified_weights(
    net: torch.nn.Module, mode: str, seed: int = 0, scale: float = 0.01
) -> Iterator[None]:
    """Temporarily change ``net``'s weights in place; the trained weights come back on exit.

    Args:
        net: the network (stays in eval mode).
        mode: ``randomise`` (re-run every layer's ``reset_parameters``) or ``perturb`` (add
            Gaussian noise of ``scale`` x each tensor's standard deviation).
        seed: seed of the new weights.
        scale: relative noise of ``perturb``.
    """
    if mode not in ("randomise", "perturb"):
        raise ValueError(f"mode must be 'randomise' or 'perturb', got {mode!r}")
    saved = copy.deepcopy(net.state_dict())
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        with torch.no_grad():
            if mode == "randomise":
                for m in net.modules():
                    if hasattr(m, "reset_parameters") and m is not net:
                        m.reset_parameters()
            else:
                for p in net.parameters():
                    spread = p.std() if p.numel() > 1 else p.abs()
                    p.add_(torch.randn_like(p) * scale * spread)
        yield
    finally:
        net.load_state_dict(saved)
        torch.random.set_rng_state(gen_state)
