"""Both ranking methods recover a planted effect; the batch model's state round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.optimize import TiterModel, key_factors, rank_factors
from forecaster.optimize.importance import vip_scores


@pytest.mark.parametrize("method", ["permutation", "pls_vip"])
def test_planted_effect_ranks_first_with_an_interval_above_no_effect(planted, method):
    bf = planted(lambda X: 2.0 * X[:, 2])
    t = rank_factors(bf.X, bf.y, methods=(method,), n_boot=30, seed=0).set_index("factor")
    assert t.loc["x2", "rank"] == 1 and t.loc["x2", "distinct"]
    assert not t.loc[["x0", "x1", "x3", "x4"], "distinct"].any()
    assert (t["ci_lo"] <= t["importance"]).all() and (t["importance"] <= t["ci_hi"]).all()


def test_permutation_orders_two_planted_effects(planted):
    # VIP reads marginal covariances, so a null factor correlated by chance with the strong
    # one can outrank a weaker real effect; the model's permutation importance is partial.
    bf = planted(lambda X: 2.0 * X[:, 2] + 1.0 * X[:, 0])
    t = rank_factors(bf.X, bf.y, methods=("permutation",), n_boot=30).set_index("factor")
    assert t.loc["x2", "rank"] == 1 and t.loc["x0", "rank"] == 2
    assert t.loc[["x2", "x0"], "distinct"].all()


def test_vip_squares_average_one(planted):
    bf = planted(lambda X: X[:, 1])
    v = vip_scores(bf.X.to_numpy(), bf.y.to_numpy())
    assert np.mean(v**2) == pytest.approx(1.0)
    assert np.argmax(v) == 1


def test_running_batches_are_left_out(planted):
    bf = planted(lambda X: 2.0 * X[:, 3])
    bf.y.iloc[:10] = np.nan  # running: no harvest titer
    t = rank_factors(bf.X, bf.y, methods=("permutation",), n_boot=20)
    assert t.set_index("factor").loc["x3", "rank"] == 1


def test_auto_model_keeps_squares_only_when_they_help(planted):
    lin = planted(lambda X: X[:, 0])
    quad = planted(lambda X: -4.0 * (X[:, 0] - 0.5) ** 2)
    assert not TiterModel().fit(lin.X.to_numpy(), lin.y.to_numpy()).squares_
    m = TiterModel().fit(quad.X.to_numpy(), quad.y.to_numpy())
    assert m.squares_ and m.score(quad.X.to_numpy(), quad.y.to_numpy()) > 0.9


def test_model_state_round_trips_as_plain_values(planted):
    import json

    bf = planted(lambda X: X[:, 0] - X[:, 1] ** 2)
    m = TiterModel().fit(bf.X.to_numpy(), bf.y.to_numpy())
    back = TiterModel.from_state_dict(json.loads(json.dumps(m.state_dict())))
    np.testing.assert_allclose(back.predict(bf.X.to_numpy()), m.predict(bf.X.to_numpy()))
    with pytest.raises(ValueError, match="format"):
        TiterModel.from_state_dict({**m.state_dict(), "format_version": 99})


def test_key_factors_labels_effects_and_too_few_batches(planted):
    from forecaster.data.errors import DataError

    bf = planted(lambda X: 2.0 * X[:, 4])
    kf = key_factors(bf, n_boot=20, n_effects=2)
    assert kf.top() == ["x4"] + kf.top()[1:] and kf.n_batches == 60
    assert set(kf.table["label"]) == {f"factor {i}" for i in range(5)}
    curve = kf.effects[kf.effects["factor"] == "x4"]
    assert curve["titer"].is_monotonic_increasing and len(curve) > 5
    small = planted(lambda X: X[:, 0], n=6)
    with pytest.raises(DataError, match="at least 8"):
        key_factors(small, n_boot=10)
