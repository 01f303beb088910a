"""Key factors across batches: both ranking methods, labels, and effect curves in one call.

The recipe and start factors (known before the batch runs) are ranked together; the
early-culture observations are ranked in a second pass that also holds the recipe and start
factors, so an early observation ranks by what it adds to them (day-2 VCD says little new
when the seeding density is already in the model). Ranks count within a method and group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.data.errors import DataError
from forecaster.optimize.effects import partial_dependence
from forecaster.optimize.factors import BatchFactors
from forecaster.optimize.importance import METHODS, filled, rank_factors
from forecaster.optimize.recommend import TiterEnsemble

#: Columns of ``key_factors.csv`` (the first eight are the app's contract).
TABLE_COLUMNS = ["factor", "label", "unit", "method", "importance", "ci_lo", "ci_hi", "rank",
                 "kind", "distinct"]  # fmt: skip
#: Fewest finished batches for a ranking.
MIN_BATCHES = 8


@dataclass
class KeyFactors:
    """Result of :func:`key_factors`.

    Attributes:
        table: :data:`TABLE_COLUMNS`, one row per factor per method.
        effects: partial dependence of the top factors (``effects.PD_COLUMNS``).
        n_batches: finished batches used.
        r2_loo: leave-one-out R^2 of the batch model on the recipe and start factors.
    """

    table: pd.DataFrame
    effects: pd.DataFrame
    n_batches: int
    r2_loo: float

    def top(self, method: str = "permutation", k: int = 3, kind: str | None = None) -> list[str]:
        """The ``k`` highest-ranked factors of ``method`` (optionally of one ``kind``; ``known``:
        recipe and start factors)."""
        t = self.table[self.table["method"] == method]
        if kind == "known":
            t = t[t["kind"] != "early"]
        elif kind is not None:
            t = t[t["kind"] == kind]
        return list(t.sort_values("rank")["factor"][:k])


def key_factors(
    bf: BatchFactors,
    *,
    methods: tuple[str, ...] = METHODS,
    n_boot: int = 100,
    seed: int = 0,
    early: bool = True,
    n_effects: int = 3,
) -> KeyFactors:
    """Rank the factors of the finished batches by each method, with effect curves.

    Args:
        bf: from :func:`~forecaster.optimize.factors.extract_factors`.
        methods: ranking methods (:data:`~forecaster.optimize.importance.METHODS`).
        n_boot: bootstrap samples of batches per method.
        seed: one seed for every draw.
        early: also rank the early-culture observations.
        n_effects: partial-dependence curves for this many top factors.

    Returns:
        :class:`KeyFactors`.

    Raises:
        DataError: fewer than :data:`MIN_BATCHES` finished batches or no usable factor.
    """
    n = int(bf.finished.sum())
    if n < MIN_BATCHES:
        raise DataError(
            f"{n} finished batches with a harvest titer; ranking factors needs at least "
            f"{MIN_BATCHES} (a batch is finished when it lasts 90 % of the longest one)"
        )
    known = bf.names("recipe", "start")
    if not known:
        raise DataError("no recipe or start factor varies between the batches")
    meta = {f.name: f for f in bf.factors}
    parts = [rank_factors(bf.X[known], bf.y, methods=methods, n_boot=n_boot, seed=seed)]
    if early and bf.names("early"):
        both = rank_factors(bf.X[known + bf.names("early")], bf.y, methods=methods,
                            n_boot=n_boot, seed=seed)  # fmt: skip
        both = both[both["factor"].isin(bf.names("early"))].copy()
        both["rank"] = both.groupby("method")["importance"].rank(ascending=False, method="first")
        parts.append(both)
    table = pd.concat(parts, ignore_index=True)
    table["label"] = [meta[f].label for f in table["factor"]]
    table["unit"] = [meta[f].unit for f in table["factor"]]
    table["kind"] = [meta[f].kind for f in table["factor"]]
    table["rank"] = table["rank"].astype(int)
    done = bf.finished.to_numpy()
    X, y = filled(bf.X[known])[done], bf.y.to_numpy(float)[done]
    ens = TiterEnsemble(n_models=40, seed=seed).fit(X, y)
    first = methods[0]
    top = [f for f in table[(table["method"] == first) & (table["kind"] != "early")]
           .sort_values("rank")["factor"]][:n_effects]  # fmt: skip
    effects = partial_dependence(ens, X, known, top)
    return KeyFactors(table[TABLE_COLUMNS], effects, n, _r2_loo(X, y))


def _r2_loo(X: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out R^2 of the batch model (how much of the titer spread it explains)."""
    from forecaster.optimize.batch_model import TiterModel

    pred = np.empty_like(y)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        pred[i] = TiterModel().fit(X[keep], y[keep]).predict(X[i : i + 1])[0]
    ss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - pred) ** 2)) / ss if ss > 0 else 0.0
