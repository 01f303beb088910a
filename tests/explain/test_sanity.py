"""Sanity checks: completeness error, similarity, and the temporary weight change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecaster.explain.result import AttributionResult
from forecaster.explain.sanity import completeness_rel_error, map_similarity, modified_weights


def result(mag: np.ndarray, pred: float = 1.0, base: float = 0.0, delta: float | None = 0.0):
    t = np.arange(mag.shape[0], dtype=float)
    return AttributionResult.from_features(
        mag, ["a", "b", "c"][: mag.shape[1]], batch_id="B", target="feed", method="ig", time_h=t,
        prediction=pred, baseline_prediction=base, convergence_delta=delta,
    )  # fmt: skip


def test_completeness_error_is_pooled_over_predictions():
    rs = [result(np.ones((2, 3)), 1.0, 0.0, 0.1), result(np.ones((2, 3)), 0.0, 3.0, -0.3)]
    assert completeness_rel_error(rs) == pytest.approx(0.4 / 4.0)
    assert np.isnan(completeness_rel_error([result(np.ones((2, 3)), delta=None)]))


def test_similarity_levels():
    a = result(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    b = result(np.array([[6.0, 5.0, 4.0], [3.0, 2.0, 1.0]]))
    assert map_similarity(a, a) == pytest.approx(1.0)
    assert map_similarity(a, b) == pytest.approx(-1.0)
    assert map_similarity(a, b, "variables") == pytest.approx(-1.0)  # totals 5,7,9 vs 9,7,5


@pytest.mark.parametrize("mode", ["randomise", "perturb"])
def test_modified_weights_change_inside_and_restore_after(mode):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GRU(4, 4, batch_first=True))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with modified_weights(net, mode, seed=5):
        changed = [not torch.equal(before[k], v) for k, v in net.state_dict().items()]
        assert all(changed)
        if mode == "perturb":  # 1 % noise: close to the trained weights
            w = net[0].weight
            assert torch.allclose(
                w, before["0.weight"], atol=0.05 * before["0.weight"].std().item()
            )
    for k, v in net.state_dict().items():
        assert torch.equal(before[k], v)
