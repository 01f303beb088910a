"""The peer-monitoring benchmark's core: bulk traces equal the library's, matched rates hold.

``benchmarks/peer_monitor_core.py`` serves process-improve's ``BatchMonitor`` traces built
once per hour pattern instead of per batch; if they drifted from ``predict_online_trace``
the peer would be scored on a different statistic than its own. The equal-false-alarm search
must land on the rate it was asked for, or the side-by-side recall means nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("process_improve.batch", reason="process-improve is not installed (dev extra)")

from benchmarks.peer_monitor_core import (  # noqa: E402
    PeerMonitor,
    events_from_ratio,
    false_alarm_rate,
    scale_for_rate,
)

VARS = ["do_pct", "ph", "glucose_g_L"]


def _batches(n: int, n_t: int = 8, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``n`` aligned batches: two hourly signals and one assay every 4 h (NaN between)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n):
        t = np.arange(n_t, dtype=float)
        lvl = rng.normal(0, 1)
        frame = pd.DataFrame({
            "time_h": t, "do_pct": 40 + lvl * 2 + rng.normal(0, 1, n_t).cumsum(),
            "ph": 7.0 + 0.05 * lvl + rng.normal(0, 0.01, n_t),
            "glucose_g_L": np.where(t % 4 == 0, 6 - 0.2 * t + rng.normal(0, 0.1, n_t), np.nan),
        })  # fmt: skip
        out[f"B{i:02d}"] = frame
    return out


def test_bulk_traces_equal_the_librarys_own():
    from process_improve.batch import BatchMonitor

    ref = _batches(12)
    peer = PeerMonitor(VARS, n_components=2).fit(ref)
    new = {b: peer.aligned(b, r, 8) for b, r in _batches(3, seed=1).items()}
    peer.server_.add(new)
    for batch in new.values():
        ours = peer.server_.predict_online_trace(batch)
        theirs = peer.model_.predict_online_trace(batch)
        for key in ("hotellings_t2", "spe", "spe_instantaneous"):
            assert np.allclose(ours[key], theirs[key], rtol=1e-6, atol=1e-9), key
        assert np.allclose(ours.scores.to_numpy(), theirs.scores.to_numpy(), atol=1e-9)
    # the limits learnt through the served traces equal those learnt by the library alone
    aligned = {b: peer.aligned(b, r, 8) for b, r in ref.items()}
    own = BatchMonitor(peer.model_, conf_level=0.99, spe_statistic="instantaneous").fit(aligned)
    served = peer.monitors_["instantaneous"]
    assert np.allclose(own.spe_limit_over_time_, served.spe_limit_over_time_)
    assert np.allclose(own.t2_limit_over_time_, served.t2_limit_over_time_)


def test_ratio_crosses_one_exactly_where_the_library_alarms():
    ref = _batches(12)
    peer = PeerMonitor(VARS, n_components=2).fit(ref)
    odd = _batches(1, seed=5)["B00"]
    odd.loc[odd["time_h"] >= 5, "do_pct"] += 40.0  # a step fault from hour 5
    ((t, r),) = peer.ratios({"x": odd})["cumulative"].values()
    batch = peer.aligned("x", odd, 8)
    peer.server_.add({"x": batch})
    lib = peer.model_.predict_online_trace(batch)  # the library's statistic, not the served one
    mon = peer.monitors_["cumulative"]
    alarm = (np.asarray(lib.spe) > mon.spe_limit_over_time_) | (
        np.einsum("ka,kab,kb->k", lib.scores.to_numpy(), mon._score_precision_over_time,
                  lib.scores.to_numpy()) > mon.t2_limit_over_time_)  # fmt: skip
    assert np.array_equal(r > 1.0, alarm)
    assert r[t >= 5].max() > 1.0 and (r[t < 5] <= 1.0).all()  # causal: nothing before the step


def test_scale_for_rate_matches_the_asked_false_alarm_rate():
    rng = np.random.default_rng(0)
    t = np.arange(100, dtype=float)
    free = {f"twin-{i}": (t, rng.gamma(2.0, 0.3, 100)) for i in range(30)}
    days = 30 * 99 / 24
    full = max(r.max() for _, r in free.values())
    for target in (0.0, 5.0, 20.0):
        c = scale_for_rate(free, target, days)
        ev = [e for b, (tt, r) in free.items() for e in events_from_ratio(b, tt, r, c)]
        assert false_alarm_rate(ev, days) <= target + 1e-9
        looser = [e for b, (tt, r) in free.items() for e in events_from_ratio(b, tt, r, c * 0.999)]
        assert false_alarm_rate(looser, days) > target  # the smallest such scale
    assert scale_for_rate(free, 0.0, days) == pytest.approx(full, rel=1e-6)


def test_events_close_after_quiet_hours_and_count_once():
    t = np.arange(40, dtype=float)
    r = np.zeros(40)
    # 5-9: one event (gaps under 6 quiet rows); 20 reopens it (11 h after it closed, < 12 h);
    # 35 is a new one (15 h after)
    r[[5, 6, 9, 20, 35]] = 2.0
    ev = events_from_ratio("twin-a", t, r, 1.0)
    assert [(e.start_h, e.raised_h, e.end_h) for e in ev] == [(5.0, 5.0, 20.0), (35.0, 35.0, 35.0)]
    assert false_alarm_rate(ev, 10.0) == 20.0 and false_alarm_rate(ev, 10.0, prefix="B") == 0.0
    assert events_from_ratio("twin-a", t, r, 2.0) == []


def test_a_batch_of_another_length_is_refused_with_its_id():
    peer = PeerMonitor(VARS, n_components=2).fit(_batches(6))
    short = _batches(1, n_t=6)["B00"]
    with pytest.raises(ValueError, match="batch odd: 6 rows, the model was fitted on 8"):
        peer.ratios({"odd": short})
    with pytest.raises(ValueError, match=r"batch odd: columns \['ph'\] missing"):
        peer.aligned("odd", short.drop(columns="ph"))
    late = _batches(1)["B00"]
    late.loc[0, "glucose_g_L"] = np.nan  # an assay known only later must not be used before
    with pytest.raises(ValueError, match=r"batch late: columns \['glucose_g_L'\] have no value"):
        peer.aligned("late", late)
