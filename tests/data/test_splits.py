"""split_batches: disjoint, complete, deterministic, stratified, non-empty."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.data.errors import ConfigError
from forecaster.data.splits import split_batches

IDS = [f"B{i:02d}" for i in range(40)]
FAULTY = IDS[::4]  # 10 faulty of 40


def test_splits_partition_the_batches():
    s = split_batches(IDS, faulty=FAULTY, seed=3)
    assert set(s) == {"train", "val", "test"}
    all_ids = s["train"] + s["val"] + s["test"]
    assert sorted(all_ids) == IDS  # every batch once: none shared, none lost
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (28, 6, 6)


def test_faulty_batches_in_proportion():
    s = split_batches(IDS, faulty=FAULTY, seed=0)
    n_faulty = {k: len(set(v) & set(FAULTY)) for k, v in s.items()}
    assert n_faulty == {"train": 7, "val": 2, "test": 1} or n_faulty == {
        "train": 7,
        "val": 1,
        "test": 2,
    }


def test_three_faulty_batches_reach_every_split():
    s = split_batches(IDS[:20], faulty=IDS[:3], seed=1)
    for ids in s.values():
        assert set(ids) & set(IDS[:3])


def test_deterministic_and_order_independent():
    a = split_batches(IDS, faulty=FAULTY, seed=7)
    b = split_batches(list(reversed(IDS)) + IDS[:5], faulty=set(FAULTY), seed=7)
    assert a == b
    assert split_batches(IDS, seed=8) != split_batches(IDS, seed=7)


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_each_split_non_empty_from_three_batches(n):
    s = split_batches(IDS[:n], faulty=IDS[:1], seed=0)
    assert all(s[k] for k in ("train", "val", "test"))


def test_zero_fraction_split_stays_empty():
    s = split_batches(IDS[:10], fractions=(0.8, 0.2, 0.0))
    assert s["test"] == [] and len(s["train"]) == 8


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.5), (0.7, 0.2, 0.2), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1), ("a", 0, 0)]
)
def test_bad_fractions(fractions):
    with pytest.raises(ConfigError, match="fractions"):
        split_batches(IDS, fractions=fractions)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    n_faulty=st.integers(0, 60),
    seed=st.integers(0, 2**31),
    fractions=st.sampled_from([(0.7, 0.15, 0.15), (0.6, 0.2, 0.2), (0.8, 0.1, 0.1)]),
)
def test_partition_property(n, n_faulty, seed, fractions):
    ids = [f"b{i}" for i in range(n)]
    s = split_batches(ids, faulty=ids[: min(n_faulty, n)], fractions=fractions, seed=seed)
    assert sorted(s["train"] + s["val"] + s["test"]) == sorted(ids)
    if n >= 3:
        assert all(s.values())
