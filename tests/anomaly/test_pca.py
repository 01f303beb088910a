"""PCA monitor: limits from good batches, a fault raises SPE/T^2, contributions, persistence."""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.config import PCAConfig
from forecaster.anomaly.pca import PCAMonitor


def _batches(n, rng, T=48, V=4):
    t = np.arange(T, dtype=float)
    out = []
    for _ in range(n):
        common = rng.normal(0, 1, (T, 1))
        x = np.hstack([common + rng.normal(0, 0.1, (T, 1)) for _ in range(V)]) + 0.05 * t[:, None]
        out.append((t, x))
    return out


def test_limits_fault_detection_and_contributions():
    rng = np.random.default_rng(0)
    mon = PCAMonitor.fit(_batches(30, rng), PCAConfig(alpha=0.99))
    assert mon.loadings.shape[1] == 1  # one common factor explains > 90 %
    t, x = _batches(1, rng)[0]
    normal = mon.score(t, x)
    assert np.mean(normal.score > 1.0) < 0.1
    x_bad = x.copy()
    x_bad[30:, 2] += 2.0  # breaks the correlation: SPE
    bad = mon.score(t, x_bad)
    assert np.all(bad.score[30:] > 1.0)
    assert np.all(np.argmax(bad.contrib[30:], axis=1) == 2)
    np.testing.assert_allclose(bad.score[:30], normal.score[:30])  # row-wise, causal


def test_arrays_roundtrip():
    rng = np.random.default_rng(1)
    mon = PCAMonitor.fit(_batches(10, rng), PCAConfig())
    again = PCAMonitor.from_arrays(mon.arrays())
    t, x = _batches(1, rng)[0]
    np.testing.assert_allclose(again.score(t, x).score, mon.score(t, x).score)


def test_ignored_readings_are_treated_as_missing():
    rng = np.random.default_rng(2)
    mon = PCAMonitor.fit(_batches(30, rng), PCAConfig(alpha=0.99))
    t, x = _batches(1, rng)[0]
    x_bad = x.copy()
    x_bad[30:33, 2] += 5.0  # a lagging reading after a set-point step
    ignore = np.zeros_like(x, dtype=bool)
    ignore[30:33, 2] = True
    assert np.all(mon.score(t, x_bad).score[30:33] > 1.0)
    got, clean = mon.score(t, x_bad, ignore), mon.score(t, x, ignore)
    np.testing.assert_allclose(got.score, clean.score)  # the bad readings are not used
    assert np.all(got.score[30:33] < 1.0) and np.all(got.contrib[30:33, 2] == 0.0)
    np.testing.assert_allclose(got.score[:30], mon.score(t, x).score[:30])
