"""Explainer: completeness, zero attribution of ignored inputs, prefix grouping, ablation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecaster.explain.explainer import (
    SequenceExplainer,
    explain_batches,
    train_mean_baseline,
    train_mean_by_time_baseline,
)
from forecaster.explain.sanity import completeness_rel_error

from .conftest import MaskedSumNet, TinyModel, batches_of


def test_ig_completeness_on_tiny_gru(gru_model, table):
    base = train_mean_baseline(gru_model, batches_of(table))
    res = SequenceExplainer(gru_model, "ig", n_steps=32, baseline=base).explain(
        batches_of(table), "titer", origins_h=[30.0, 60.0]
    )
    assert len(res) == 8
    for r in res:
        # attributions sum to f(x) - f(baseline) up to the quadrature error
        diff = r.prediction - r.baseline_prediction
        assert r.total == pytest.approx(diff, abs=0.02 * abs(diff) + 1e-4)
        assert abs(r.convergence_delta) <= 0.02 * abs(diff) + 1e-4
    assert completeness_rel_error(res) < 0.02


def test_prediction_matches_model_output_at_origin(gru_model, table):
    b = batches_of(table)[1]
    (r,) = SequenceExplainer(gru_model, "ig").explain([b], "feed", origins_h=[28.0])
    # prefix ends at the last row at or before 28 h: rows 0, 6, 12, 18, 24 h
    assert r.origin_h == 24.0 and r.values.shape == (5, len(r.variables))
    x = torch.from_numpy(gru_model.features(b))[None]
    with torch.no_grad():
        full = gru_model.net(x)["feed"][0]
    # causal net: the prediction for the prefix equals the full pass at that step
    assert r.prediction == pytest.approx(float(full[4]), abs=1e-5)


@pytest.mark.parametrize("method", ["ig", "ablation"])
def test_ignored_variable_gets_zero_attribution(prep, table, method):
    ignored_var = "ph"
    ignored = [j for j, v in enumerate(prep.feature_variables) if v == ignored_var]
    model = TinyModel(MaskedSumNet(prep.n_features, ignored), prep)
    res = explain_batches(
        model, batches_of(table), target="feed", method=method, origins_h=[50.0, 90.0]
    )
    assert len(res) == 8
    for r in res:
        shares = r.variable_shares()
        assert shares[ignored_var] == 0.0
        assert np.all(r.values[:, r.variables.index(ignored_var)] == 0.0)
        # every variable the model reads gets some attribution
        assert (shares.drop(ignored_var) > 0).all()
        assert shares.sum() == pytest.approx(1.0)


def test_ablation_group_attribution_is_not_overcounted(prep, table):
    # A linear model: ablating a (variable, day) group changes the output by exactly the
    # sum of that group's contributions, so the per-day sums must match the output gap.
    class LinearNet(torch.nn.Module):
        def __init__(self, f: int) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.linspace(-1, 1, f))

        def forward(self, x):
            z = torch.cumsum(x @ self.w, dim=1)
            return {"feed": z, "harvest": torch.stack([z, z, z], -1)}

    model = TinyModel(LinearNet(prep.n_features), prep)
    res = explain_batches(
        model, batches_of(table)[:2], target="feed", method="ablation", origins_h=[80.0]
    )
    for r in res:
        assert r.total == pytest.approx(r.prediction - r.baseline_prediction, rel=1e-4, abs=1e-5)


def test_origins_beyond_batch_end_are_skipped_and_default_is_last_row(gru_model, table):
    b = batches_of(table)[0]
    ex = SequenceExplainer(gru_model, "ig", n_steps=4)
    assert [r.origin_h for r in ex.explain([b], "feed", origins_h=[500.0, 24.0])] == [24.0]
    (last,) = ex.explain([b], "feed")
    assert last.origin_h == float(b["time_h"].max())


def test_bad_arguments_raise(gru_model):
    with pytest.raises(ValueError, match="method"):
        SequenceExplainer(gru_model, "shap")
    with pytest.raises(ValueError, match="baseline"):
        SequenceExplainer(gru_model, baseline=np.zeros(3))
    with pytest.raises(ValueError, match="target"):
        SequenceExplainer(gru_model).explain([], "glucose")


def test_time_matched_baseline_is_the_mean_batch_per_hour(gru_model, table):
    batches = batches_of(table)  # rows every 6 h
    base = train_mean_by_time_baseline(gru_model, batches)
    feats = [gru_model.features(b) for b in batches]
    assert base.shape == (int(batches[0].time_h.max()) + 1, feats[0].shape[1])
    np.testing.assert_allclose(base[12], np.mean([f[2] for f in feats], axis=0), rtol=1e-5)
    np.testing.assert_array_equal(base[13], base[12])  # hours without rows repeat the last
    # completeness holds with a per-step baseline, and a prefix equal to its baseline
    # (the clock here: identical in every batch at a given hour) gets no attribution
    res = SequenceExplainer(gru_model, "ig", n_steps=32, baseline=base).explain(
        batches, "titer", origins_h=[30.0]
    )
    for r in res:
        diff = r.prediction - r.baseline_prediction
        assert r.total == pytest.approx(diff, abs=0.02 * abs(diff) + 1e-4)
        assert r.variable_shares()["time_h"] == pytest.approx(0.0, abs=1e-6)
