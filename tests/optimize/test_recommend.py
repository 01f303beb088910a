"""The recommender stays within bounds and beats the current recipe on a planted optimum."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.data.errors import DataError
from forecaster.optimize import recommend


def _optimum(X: np.ndarray) -> np.ndarray:
    """Titer peaks at x0 = 0.7 and rises with x1; x2..x4 do nothing."""
    return 5.0 - 8.0 * (X[:, 0] - 0.7) ** 2 + 1.0 * X[:, 1]


def test_recommendation_finds_the_planted_optimum_and_beats_current(planted):
    bf = planted(_optimum)
    rec = recommend(bf, current={"x0": 0.2, "x1": 0.2}, n_trials=80, n_models=20)
    r = rec.recipe.set_index("factor")
    assert r.loc["x0", "recommended"] == pytest.approx(0.7, abs=0.1)
    assert r.loc["x1", "recommended"] > 0.85  # at its upper end
    assert rec.recommended.mean > rec.current.mean + 1.0
    assert rec.recommended.lo < rec.recommended.mean < rec.recommended.hi
    assert list(rec.recipe.columns) == ["factor", "label", "unit", "current", "recommended",
                                        "lower_bound", "upper_bound"]  # fmt: skip


@pytest.mark.parametrize("objective", ["mean", "lower"])
def test_recommendation_respects_user_bounds(planted, objective):
    bf = planted(_optimum)
    bounds = {"x0": (0.1, 0.4), "x1": (0.2, 0.5)}
    rec = recommend(bf, controllable=["x0", "x1"], bounds=bounds, objective=objective,
                    n_trials=60, n_models=20)  # fmt: skip
    r = rec.recipe.set_index("factor")
    assert list(r.index) == ["x0", "x1"]
    for name, (lo, hi) in bounds.items():
        assert lo <= r.loc[name, "recommended"] <= hi
        assert (r.loc[name, "lower_bound"], r.loc[name, "upper_bound"]) == (lo, hi)
    assert r.loc["x0", "recommended"] > 0.3  # the bound nearest the optimum


def test_next_batches_are_distinct_and_inside_the_box(planted):
    bf = planted(_optimum)
    rec = recommend(bf, n_trials=60, n_models=20, n_next=3)
    nb = rec.next_batches
    assert len(nb) == 3 and list(nb["batch"]) == ["next_1", "next_2", "next_3"]
    X = nb[[f"x{i}" for i in range(5)]].to_numpy()
    assert ((X >= 0.0) & (X <= 1.0)).all()
    assert len({tuple(np.round(x, 6)) for x in X}) == 3


def test_bad_requests_are_data_errors(planted):
    bf = planted(_optimum)
    with pytest.raises(DataError, match="unknown or unusable factor 'nope'"):
        recommend(bf, controllable=["nope"], n_trials=5)
    with pytest.raises(DataError, match="lower 0.9 is above upper 0.1"):
        recommend(bf, bounds={"x0": (0.9, 0.1)}, n_trials=5)
    with pytest.raises(DataError, match="objective"):
        recommend(bf, objective="max", n_trials=5)
