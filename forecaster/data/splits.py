"""Train / validation / test splits by batch, stratified by faulty vs normal batches.

A batch is never split: every row of a batch goes to one split. Faulty and normal batches
are split separately with the same fractions (largest-remainder rounding), so each split
gets its share of faulty batches; a stratum with at least as many batches as there are
(non-zero) splits puts at least one in each. The result depends only on the set of ids,
``faulty``, ``fractions`` and ``seed``, not on the order of ``batch_ids``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

from forecaster.data.errors import ConfigError

SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_batches(
    batch_ids: Sequence[str],
    *,
    faulty: Collection[str] = (),
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> dict[str, list[str]]:
    """Assign each batch to train, val or test.

    Args:
        batch_ids: batch ids (duplicates are ignored, so a table's column can be passed).
        faulty: ids of faulty batches (ids not in ``batch_ids`` are ignored).
        fractions: shares of train, val and test; non-negative, sum 1, train > 0.
        seed: random seed; same inputs and seed give the same split.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, ids sorted within each split.
        Every split with a non-zero fraction is non-empty when there are enough batches
        (at least 3 for the default fractions).

    Raises:
        ConfigError: bad fractions.
    """
    fr = _check_fractions(fractions)
    ids = sorted({str(b) for b in batch_ids})
    bad = {str(b) for b in faulty}
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    strata = [[b for b in ids if b in bad], [b for b in ids if b not in bad]]
    n_f, n_n = len(strata[0]), len(strata[1])
    faulty_counts = _allocate(n_f * fr, at_least_one=fr > 0)
    # Normal batches fill each split up to its share of all batches, so the totals stay
    # as close to the fractions as the faulty ones allow.
    target = np.clip(len(ids) * fr - faulty_counts, 0.0, None)
    if target.sum() > 0:
        target *= n_n / target.sum()
    counts = [faulty_counts, _allocate(target, at_least_one=np.zeros(3, bool))]
    _fill_empty_splits(counts, fr)
    for members, n in zip(strata, counts):
        assert sum(n) == len(members)
        order = rng.permutation(len(members))
        start = 0
        for name, k in zip(SPLITS, n):
            out[name] += [members[i] for i in order[start : start + k]]
            start += k
    return {name: sorted(v) for name, v in out.items()}


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    try:
        fr = np.asarray([float(f) for f in fractions], dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"split fractions must be numbers, got {fractions!r}") from None
    if fr.shape != (3,) or not np.isfinite(fr).all() or (fr < 0).any():
        raise ConfigError(
            f"split fractions must be three non-negative numbers (train, val, test), "
            f"got {list(fractions)!r}"
        )
    if not math.isclose(fr.sum(), 1.0, abs_tol=1e-6) or fr[0] <= 0:
        raise ConfigError(
            f"split fractions must sum to 1 with train > 0, got {list(fractions)!r} "
            f"(sum {fr.sum():g})"
        )
    return fr


def _allocate(quota: np.ndarray, at_least_one: np.ndarray) -> list[int]:
    """Largest-remainder integers summing to ``round(quota.sum())``.

    Splits flagged ``at_least_one`` get one each when there are enough to go round.
    """
    n = int(round(quota.sum()))
    counts = np.floor(quota + 1e-9).astype(int)
    rest = n - counts.sum()
    # Ties go to the earlier split (stable sort on the negated remainder).
    for i in np.argsort(-(quota - counts), kind="stable")[: max(rest, 0)]:
        counts[i] += 1
    if n >= at_least_one.sum():
        for i in np.flatnonzero(at_least_one & (counts == 0)):
            # The split most over its quota among those that can spare one.
            donor = int(np.argmax(np.where(counts > 1, counts - quota, -np.inf)))
            counts[donor] -= 1
            counts[i] += 1
    return counts.tolist()


def _fill_empty_splits(counts: list[list[int]], fr: np.ndarray) -> None:
    """Move batches between splits so that no wanted split is empty overall."""
    total = np.sum(counts, axis=0)
    for i in np.flatnonzero((fr > 0) & (total == 0)):
        n_all = total.sum()
        if n_all < (fr > 0).sum():
            return
        # Take from the stratum and split that hold the most batches beyond one.
        s, donor = max(
            ((s, d) for s in range(len(counts)) for d in range(3) if total[d] > 1),
            key=lambda sd: counts[sd[0]][sd[1]],
        )
        counts[s][donor] -= 1
        counts[s][i] += 1
        total = np.sum(counts, axis=0)
