"""The chosen forecast's calibration set: each batch forecast by a choice made without it, so
intervals calibrated on it hold their level on new batches instead of inheriting the
selection's optimism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from forecaster.models.conformal import conformal_quantile
from forecaster.pipeline.ladder_calibrate import calibration_set, cross_selected, loo_selected
from forecaster.pipeline.ladder_select import Forecasts, choose

NAIVE = ("naive_mean",)


def _rung(ids, y, log_err, fold) -> Forecasts:
    p = y * np.exp(np.asarray(log_err, dtype=float))
    return Forecasts(np.asarray(ids, dtype=object), y, np.stack([p, p, p], 1), fold)


def test_cross_selected_intervals_hold_their_level_where_self_selected_ones_do_not():
    """Six rungs and the naive one, all equally good, 30 batches: the rung or blend chosen on
    its own out-of-fold errors looks better than it is (80 % intervals cover ~75 %); the
    cross-selected errors give ~80 %. Coverage is exact: new batches' log errors are normal
    with the chosen combination's sd."""
    rng = np.random.default_rng(0)
    names, n, own, cross = ("naive_mean", "r1", "r2", "r3", "r4", "r5"), 30, [], []
    ids = [f"b{i:02d}" for i in range(n)]
    for _ in range(60):
        y = rng.uniform(900, 1100, n)
        cheap = {m: _rung(ids, y, rng.normal(0, 0.2, n), np.arange(n) % 5) for m in names}
        c = choose(cheap, {}, NAIVE, [])
        w = np.asarray(list(c.weights.values()))
        sd = 0.2 * math.sqrt(float(np.sum((w / w.sum()) ** 2)))
        for dest, f in ((own, c.oos), (cross, cross_selected(cheap, NAIVE))):
            q = conformal_quantile(np.abs(f.log_residuals()), 0.8)
            dest.append(2 * stats.norm.cdf(q / sd) - 1)
    assert np.mean(cross) > 0.78
    assert np.mean(cross) - np.mean(own) > 0.03


def test_each_fold_is_forecast_by_the_choice_made_on_the_other_folds():
    """``lucky`` is exact on fold 0 and a little worse than the naive rung elsewhere: chosen
    on all batches it wins, but without fold 0 it loses, so fold 0's batches are forecast by
    the naive rung."""
    n = 20
    ids, y, fold = [f"b{i:02d}" for i in range(n)], np.full(n, 1000.0), np.arange(n) % 4
    cheap = {"naive_mean": _rung(ids, y, np.full(n, 0.1), fold),
             "lucky": _rung(ids, y, np.where(fold == 0, 0.0, 0.12), fold)}  # fmt: skip
    assert choose(cheap, {}, NAIVE, []).rung == "lucky"
    f = cross_selected(cheap, NAIVE)
    assert f.n == n
    np.testing.assert_allclose(f.log_residuals()[f.fold == 0], -0.1)  # the naive rung's
    assert np.all(np.abs(f.log_residuals()[f.fold != 0]) > 0.1)  # lucky (or a blend) there


def test_a_validation_batch_is_forecast_by_the_choice_made_without_it():
    """The sequence model beats the naive rung on six validation batches only thanks to
    v0, where it is exact: without v0 the naive rung is kept, so v0 gets the naive error."""
    n = 30
    ids, y = [f"b{i:02d}" for i in range(n)], np.full(n, 1000.0)
    cheap = {"naive_mean": _rung(ids, y, np.full(n, 0.10), np.arange(n) % 5)}
    val = ids[:6]
    seq = _rung(val, y[:6], [0.0, 0.11, 0.11, 0.11, 0.11, 0.11], np.full(6, -1))
    c = choose(cheap, {"sequence": seq}, NAIVE, val)
    assert c.rung == "sequence" and c.oos.log_residuals()[0] == pytest.approx(0.0)
    loo = loo_selected(cheap, {"sequence": seq}, NAIVE, val)
    np.testing.assert_allclose(-loo.log_residuals(), [0.10, 0.11, 0.11, 0.11, 0.11, 0.11])
    pooled, note = calibration_set(c, cheap, NAIVE, val, (0.8, 0.9, 0.95), {"sequence": seq})
    assert pooled.n == n and "6 validation batches" in note and "pooled with 24" in note


def test_a_stage_one_choice_is_calibrated_on_every_cross_selected_batch():
    n = 25
    ids, y = [f"b{i:02d}" for i in range(n)], np.full(n, 1000.0)
    cheap = {"naive_mean": _rung(ids, y, np.linspace(-0.2, 0.2, n), np.arange(n) % 5)}
    c = choose(cheap, {}, NAIVE, [])
    got, note = calibration_set(c, cheap, NAIVE, [], (0.8,))
    assert got.n == n and note == ""
    np.testing.assert_allclose(np.sort(got.log_residuals()), np.sort(c.oos.log_residuals()))
