"""Agreement of an importance ranking with the ground truth: Spearman and top-k precision.

Importances and truths are ``pd.Series`` indexed by variable name. Both scores are computed
over the variables the ground truth covers (``truth.index``); a variable a method does not
score counts as 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def spearman_vs_truth(importance: pd.Series, truth: pd.Series) -> float:
    """Spearman rank correlation of ``importance`` and ``truth`` over ``truth.index``.

    Ties (e.g. every non-input of the feed policy at 0) get average ranks. NaN if either
    side is constant.
    """
    imp = importance.reindex(truth.index).fillna(0.0).to_numpy(dtype=float)
    tru = truth.to_numpy(dtype=float)
    if len(tru) < 2 or np.ptp(imp) == 0 or np.ptp(tru) == 0:
        return float("nan")
    return float(spearmanr(imp, tru).statistic)


def top_k_precision(
    importance: pd.Series, true_set: set[str] | list[str], candidates: pd.Index, k: int = 3
) -> float:
    """Share of the method's top ``k`` variables (among ``candidates``) that are true drivers.

    Args:
        importance: method's importance per variable.
        true_set: the true drivers (feed: the policy's inputs; titer: the truth's top k).
        candidates: variables ranked (the truth's index).
        k: how many top variables are checked.

    Returns:
        ``|top_k ∩ true_set| / min(k, |true_set|)``, in [0, 1]; NaN if ``true_set`` is empty.
    """
    true_set = set(true_set) & set(candidates)
    if not true_set:
        return float("nan")
    imp = importance.reindex(candidates).fillna(0.0)
    # a variable with no importance is not "ranked", so zero ties earn no credit
    top = list(imp[imp > 0].sort_values(ascending=False, kind="stable").index[:k])
    return float(len(set(top) & true_set) / min(k, len(true_set)))


def score_methods(
    importances: Mapping[str, pd.Series],
    truth: pd.Series,
    true_set: set[str] | list[str],
    k: int = 3,
    ranked: list[str] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Agreement of every method with the truth.

    Args:
        importances: ``{method: importance per variable}``.
        truth: true importance of every variable the truth covers (0 = not a driver).
        true_set: the true drivers (top-k precision).
        k: k of the top-k precision.
        ranked: the variables the truth *orders* (default: all of ``truth``). For the feed
            head these are the policy's inputs: all other variables tie at 0, and a
            16-way tie caps Spearman over all 20 variables at 0.70 even for a perfect
            ranking, so the order of the drivers is scored on the drivers.

    Returns:
        ``{method: {"spearman_vs_truth": over ranked, "spearman_all_variables": over all of
        truth, "top{k}_precision": ...}}`` (None where undefined).
    """
    ranked_truth = truth if ranked is None else truth.reindex(ranked)
    out = {}
    for name, imp in importances.items():
        out[name] = {
            "spearman_vs_truth": _clean(spearman_vs_truth(imp, ranked_truth)),
            "spearman_all_variables": _clean(spearman_vs_truth(imp, truth)),
            f"top{k}_precision": _clean(top_k_precision(imp, true_set, truth.index, k)),
        }
    return out


def max_spearman(truth: pd.Series) -> float:
    """Largest Spearman any tie-free ranking can reach against ``truth`` (< 1 with ties)."""
    order = truth.rank(method="first").to_numpy(dtype=float)
    return spearman_vs_truth(pd.Series(order, index=truth.index), truth)


def _clean(x: float) -> float | None:
    """JSON-friendly: NaN becomes None."""
    return None if x is None or not np.isfinite(x) else float(x)
