"""K-fold cross-validation by batch, stratified by a label (fault type, recipe, ...).

A batch is never split: each batch is the validation batch of exactly one fold and a
training batch of all the others. Within each stratum the batches are shuffled (seeded) and
dealt round-robin over the folds, the deal continuing from stratum to stratum, so every
fold gets its share of each label and the fold sizes differ by at most one. The result
depends only on the set of ids, their labels, ``k`` and ``seed``, not on the order of
``ids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from forecaster.data.errors import ConfigError


def min_batches(k: int) -> int:
    """Fewest batches ``k``-fold cross-validation by batch needs: one validation batch per
    fold and at least two training batches in each fold."""
    return max(int(k), 3)


def kfold_batches(
    ids: Sequence[str],
    k: int,
    seed: int = 0,
    strata: Mapping[str, object] | Sequence[object] | None = None,
) -> list[tuple[list[str], list[str]]]:
    """Split batches into ``k`` folds.

    Args:
        ids: batch ids (duplicates ignored, so a table's ``batch_id`` column can be passed).
        k: number of folds (>= 2).
        seed: random seed of the shuffle.
        strata: label of each batch: ``{id: label}``, or a sequence aligned with ``ids``;
            None: one stratum.

    Returns:
        ``k`` pairs ``(train_ids, val_ids)``, ids sorted within each; the ``val_ids`` of
        the folds partition the batches.

    Raises:
        ConfigError: ``k < 2``, fewer batches than :func:`min_batches`, a batch without a
            label in ``strata``.
    """
    if int(k) != k or k < 2:
        raise ConfigError(f"cross-validation folds k = {k}", expected="a whole number >= 2")
    k = int(k)
    labels = _labels(ids, strata)
    uniq = sorted(labels)
    need = min_batches(k)
    if len(uniq) < need:
        raise ConfigError(
            f"{k}-fold cross-validation by batch needs at least {need} batches, got "
            f"{len(uniq)}; lower the number of folds or add batches"
        )
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    nxt = 0
    for label in sorted({labels[b] for b in uniq}, key=repr):
        members = [b for b in uniq if labels[b] == label]
        for i in rng.permutation(len(members)):
            folds[nxt].append(members[i])
            nxt = (nxt + 1) % k
    out = []
    for f in folds:
        val = set(f)
        out.append(([b for b in uniq if b not in val], sorted(val)))
    return out


def _labels(
    ids: Sequence[str], strata: Mapping[str, object] | Sequence[object] | None
) -> dict[str, object]:
    ids = [str(b) for b in ids]
    if strata is None:
        return dict.fromkeys(ids, "")
    if isinstance(strata, Mapping):
        given = {str(b): v for b, v in strata.items()}
        missing = sorted(set(ids) - set(given))
        if missing:
            raise ConfigError(
                f"no stratum label for batch(es) {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
                expected="a label for every batch",
            )
        return {b: given[b] for b in ids}
    strata = list(strata)
    if len(strata) != len(ids):
        raise ConfigError(
            f"{len(strata)} stratum labels for {len(ids)} batch ids",
            expected="one label per id",
        )
    out: dict[str, object] = {}
    for b, v in zip(ids, strata):
        if b in out and out[b] != v:
            raise ConfigError(f"batch {b} has two stratum labels, {out[b]!r} and {v!r}")
        out[b] = v
    return out
