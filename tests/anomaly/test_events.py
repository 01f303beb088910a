"""Persistence and clearing logic; chunked (streaming) input gives the same events."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.anomaly.events import AlarmEvent, RunTracker, find_spans


@pytest.mark.parametrize(
    "flags, k, clear, expected",
    [
        # (start_h, raised_h, end_h) per event; hours = row index
        ([0, 1, 1, 1, 0, 0, 0], 2, 1, [(1, 2, 3)]),
        ([0, 1, 0, 1, 1, 0], 2, 1, [(3, 4, 4)]),  # the lone flag at 1 never raises
        ([1, 1, 0, 1, 1, 0, 0, 1, 1], 2, 2, [(0, 1, 4), (7, 8, 8)]),  # gap of 1 bridged, of 2 not
        ([1, 1, 1], 4, 1, []),
        ([1, 0, 1, 0, 1], 1, 1, [(0, 0, 0), (2, 2, 2), (4, 4, 4)]),
    ],
)
def test_persistence_and_clearing(flags, k, clear, expected):
    t = np.arange(len(flags), dtype=float)
    spans = find_spans(t, np.array(flags, bool), t, min_steps=k, clear_steps=clear)
    assert [(s.start_h, s.raised_h, s.end_h) for s in spans] == expected


def test_min_duration_in_hours():
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    spans = find_spans(t, np.ones(5, bool), np.zeros(5), min_steps=1, min_duration_h=1.5)
    assert [(s.start_h, s.raised_h) for s in spans] == [(0.0, 1.5)]


def test_open_event_at_the_end_and_peak():
    t = np.arange(6, dtype=float)
    score = np.array([0, 5, 7, 6, 0, 0], float)
    (s,) = find_spans(t, score > 1, score, min_steps=2, clear_steps=5)
    assert s.open and s.peak == 7.0 and s.end_h == 3.0


@pytest.mark.parametrize("cuts", [[1], [3, 4], [2, 5, 9], list(range(1, 12))])
def test_chunked_updates_match_one_shot(cuts):
    rng = np.random.default_rng(1)
    t = np.arange(12, dtype=float)
    flags = rng.random(12) > 0.4
    score = rng.random(12)
    whole = find_spans(t, flags, score, min_steps=2, clear_steps=2)
    tr = RunTracker(2, 0.0, 2)
    got = {}
    for a, b in zip([0, *cuts], [*cuts, 12]):
        for s in tr.update(t[a:b], flags[a:b], score[a:b]):
            got[id(s)] = s
    chunked = sorted(got.values(), key=lambda s: s.raised_i)
    key = lambda s: (s.start_h, s.raised_h, s.end_h, s.peak, s.open)  # noqa: E731
    assert [key(s) for s in chunked] == [key(s) for s in whole]


def test_alarm_event_to_dict_is_plain():
    e = AlarmEvent("B1", "autoencoder", 1.0, 2.0, 3.0, 4.0, 1.5, None, [("do_pct", 0.7)], "DO fell")
    d = e.to_dict()
    assert (
        d["top_variables"] == [["do_pct", 0.7]] and d["batch_id"] == "B1" and d["raised_h"] == 2.0
    )


@pytest.mark.parametrize(
    "gap_h, expected",
    [
        (0.0, [(0, 1, 2), (7, 8, 9), (20, 21, 22)]),  # no merging: three events
        (5.0, [(0, 1, 2), (7, 8, 9), (20, 21, 22)]),  # 7 - 2 = 5 h is not less than 5
        (6.0, [(0, 1, 9), (20, 21, 22)]),  # the second continues the first
        (12.0, [(0, 1, 22)]),  # ...and the third (20 - 9 = 11 h) continues it too
    ],
)
def test_merge_gap_joins_alarms_of_one_detector(gap_h, expected):
    flags = np.zeros(26, bool)
    flags[[0, 1, 2, 7, 8, 9, 20, 21, 22]] = True
    t = np.arange(26, dtype=float)
    spans = find_spans(t, flags, t, min_steps=2, clear_steps=2, merge_gap_h=gap_h)
    assert [(s.start_h, s.raised_h, s.end_h) for s in spans] == expected
    assert spans[-1].peak == 22.0 and not spans[-1].open


def test_merged_alarm_needs_persistence_again():
    flags = np.array([1, 1, 0, 0, 1, 0, 0, 0], bool)  # the lone flag at 4 never raises
    t = np.arange(8, dtype=float)
    (s,) = find_spans(t, flags, t, min_steps=2, clear_steps=2, merge_gap_h=10.0)
    assert (s.start_h, s.end_h) == (0.0, 1.0)


@pytest.mark.parametrize("cuts", [[1], [5, 9], list(range(1, 30))])
def test_chunked_updates_with_merging_match_one_shot(cuts):
    t = np.arange(30, dtype=float)
    flags = np.tile([1, 1, 0, 0, 0, 0], 5).astype(bool)
    flags[[24, 25]] = False  # a gap too long to merge (12 h)
    score = np.random.default_rng(4).random(30)
    whole = find_spans(t, flags, score, 2, 0.0, 2, merge_gap_h=6.0)
    tr = RunTracker(2, 0.0, 2, merge_gap_h=6.0)
    got = {}
    for a, b in zip([0, *cuts], [*cuts, 30]):
        for s in tr.update(t[a:b], flags[a:b], score[a:b]):
            got[id(s)] = s
    key = lambda s: (s.start_h, s.raised_h, s.end_h, s.peak, s.open)  # noqa: E731
    assert [key(s) for s in sorted(got.values(), key=lambda s: s.raised_i)] == [
        key(s) for s in whole
    ]
    assert len(whole) < len(find_spans(t, flags, score, 2, 0.0, 2))  # merging did something
