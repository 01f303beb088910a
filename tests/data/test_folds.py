"""K-fold by batch: the validation folds partition the batches, strata are shared out,
the result depends only on the set of ids and the seed, too few batches is one line."""

from __future__ import annotations

from collections import Counter

import pytest

from forecaster.data.errors import ConfigError
from forecaster.data.folds import kfold_batches, min_batches

IDS = [f"B{i:02d}" for i in range(23)]


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_validation_folds_partition_the_batches(k):
    folds = kfold_batches(IDS, k, seed=0)
    vals = [v for _, v in folds]
    assert sorted(b for v in vals for b in v) == sorted(IDS)  # each batch in exactly one
    assert max(map(len, vals)) - min(map(len, vals)) <= 1
    for train, val in folds:
        assert not set(train) & set(val)
        assert sorted(train + val) == sorted(IDS)


def test_same_set_and_seed_give_the_same_folds_whatever_the_order():
    a = kfold_batches(IDS, 5, seed=3)
    assert kfold_batches(list(reversed(IDS)) + IDS[:4], 5, seed=3) == a
    assert kfold_batches(IDS, 5, seed=4) != a


def test_each_fold_gets_its_share_of_each_stratum():
    labels = {b: ("faulty" if i < 5 else "normal") for i, b in enumerate(IDS[:15])}
    folds = kfold_batches(list(labels), 5, seed=0, strata=labels)
    for _, val in folds:
        assert Counter(labels[b] for b in val) == {"faulty": 1, "normal": 2}


def test_strata_as_a_sequence_aligned_with_ids():
    labels = ["a", "b"] * 5
    folds = kfold_batches(IDS[:10], 5, seed=1, strata=labels)
    lab = dict(zip(IDS[:10], labels))
    assert all(sorted(lab[b] for b in v) == ["a", "b"] for _, v in folds)


@pytest.mark.parametrize(("n", "k", "need"), [(4, 5, 5), (2, 2, 3), (0, 3, 3)])
def test_too_few_batches_is_one_line_naming_the_minimum(n, k, need):
    assert min_batches(k) == need
    with pytest.raises(ConfigError) as e:
        kfold_batches(IDS[:n], k, seed=0)
    msg = str(e.value)
    assert f"at least {need} batches" in msg and "\n" not in msg


def test_bad_k_and_missing_labels_are_config_errors():
    with pytest.raises(ConfigError, match="k = 1"):
        kfold_batches(IDS, 1)
    with pytest.raises(ConfigError, match="no stratum label for batch"):
        kfold_batches(IDS[:6], 3, strata={b: "x" for b in IDS[:5]})
