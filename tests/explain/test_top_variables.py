"""A batch's top variables rank process variables only: the clock is an input, not a cause."""

import numpy as np
import pytest

from forecaster import schema
from forecaster.explain.result import AttributionResult


def _result(time_weight: float) -> AttributionResult:
    # features: glucose, the clock, titer (x2 features); the clock dominates when weighted up
    attr = np.array([[0.2, time_weight, 0.1, 0.1], [0.1, time_weight, 0.1, 0.1]])
    return AttributionResult.from_features(
        attr,
        ["glucose_g_L", schema.TIME, "titer_mg_L", "titer_mg_L"],
        batch_id="B1",
        target="titer",
        method="ig",
        time_h=np.array([0.0, 1.0]),
    )


def test_clock_is_never_ranked_even_when_it_dominates():
    r = _result(time_weight=5.0)
    assert r.variable_shares().idxmax() == schema.TIME  # the model leans on it ...
    top = r.top(5)
    assert [v for v, _ in top] == ["titer_mg_L", "glucose_g_L"]  # ... it is not a cause
    assert schema.TIME not in dict(top)


def test_ranked_shares_are_among_process_variables():
    shares = dict(_result(time_weight=5.0).top(5))
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["titer_mg_L"] == pytest.approx(0.4 / 0.7)


def test_a_result_with_only_the_clock_ranks_nothing_with_weight():
    r = AttributionResult.from_features(
        np.ones((2, 1)), [schema.TIME], batch_id="B", target="titer", method="ig",
        time_h=np.array([0.0, 1.0]),
    )  # fmt: skip
    assert r.top(3) == []
