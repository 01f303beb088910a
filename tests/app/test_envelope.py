"""The golden-batch envelope maths: alignment axes, mean +- k sd, excursions (table-driven)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.errors import DataError
from forecaster.serve.envelope import aligned, envelope, excursions


def _batch(bid: str, values, feed=10.0, vcd=2.0, hours=None) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    t = np.arange(values.size, dtype=float) if hours is None else np.asarray(hours, dtype=float)
    return pd.DataFrame({"batch_id": bid, "time_h": t, "glucose_g_L": values,
                         "feed_rate_mL_h": feed, "vcd_1e6_cells_mL": vcd})  # fmt: skip


def _table(*batches: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(batches, ignore_index=True)


@pytest.mark.parametrize(
    ("align", "expected_end"),
    [("time", 10.0), ("cumfeed", 100.0), ("ivcd", 2.0 * 10 / 24)],
)
def test_aligned_axis_ends_where_its_integral_says(align, expected_end):
    rows = _batch("A", np.ones(11))
    x = aligned(rows, align)
    assert x[0] == 0.0
    assert x[-1] == pytest.approx(expected_end)
    assert np.all(np.diff(x) >= 0)


def test_ivcd_joins_sparse_vcd_samples_linearly():
    rows = _batch("A", np.ones(5), vcd=np.nan)
    rows.loc[[0, 4], "vcd_1e6_cells_mL"] = [0.0, 4.0]  # 0 -> 4 over 4 h: mean 2
    assert aligned(rows, "ivcd")[-1] == pytest.approx(2.0 * 4 / 24)


def test_cumfeed_holds_the_rate_until_the_next_row():
    rows = _batch("A", np.ones(3), hours=[0, 1, 3])
    rows["feed_rate_mL_h"] = [5.0, 10.0, 99.0]  # the last rate has no interval after it
    assert list(aligned(rows, "cumfeed")) == [0.0, 5.0, 25.0]


@pytest.mark.parametrize(
    ("k", "lower", "upper"), [(1.0, 1.0, 3.0), (2.0, 0.0, 4.0), (0.0, 2.0, 2.0)]
)
def test_envelope_is_mean_plus_minus_k_sample_sd(k, lower, upper):
    t = _table(_batch("A", [1] * 6), _batch("B", [2] * 6), _batch("C", [3] * 6))
    env = envelope(t, ["A", "B", "C"], "glucose_g_L", k=k, n_grid=11)
    assert len(env) == 11
    assert np.allclose(env["mean"], 2.0) and np.allclose(env["sd"], 1.0)
    assert np.allclose(env["lower"], lower) and np.allclose(env["upper"], upper)
    assert (env["n"] == 3).all()
    assert env["x"].iloc[0] == 0.0 and env["x"].iloc[-1] == 5.0


def test_envelope_covers_only_where_enough_good_batches_have_values():
    short = _batch("C", [2] * 3)  # 0..2 h only
    t = _table(_batch("A", [1] * 11), short)
    env = envelope(t, ["A", "C"], "glucose_g_L", n_grid=11)
    assert env["x"].max() == pytest.approx(2.0)


def test_envelope_uses_only_the_samples_of_an_offline_assay():
    a = _batch("A", [1, np.nan, np.nan, 3])  # samples at 0 h and 3 h: 2.0 at 1.5 h
    b = _batch("B", [1, np.nan, np.nan, 3])
    env = envelope(_table(a, b), ["A", "B"], "glucose_g_L", n_grid=3)
    assert env["mean"].tolist() == pytest.approx([1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("good", "variable", "align", "message"),
    [
        (["A"], "glucose_g_L", "time", "at least 2 good batches"),
        (["A", "Z"], "glucose_g_L", "time", "not in the table: Z"),
        (["A", "B"], "lactate_g_L", "time", "no column lactate_g_L"),
        (["A", "B"], "glucose_g_L", "maturity", "unknown alignment"),
    ],
)
def test_envelope_refuses_with_a_clear_message(good, variable, align, message):
    t = _table(_batch("A", [1] * 4), _batch("B", [2] * 4))
    with pytest.raises(DataError, match=message):
        envelope(t, good, variable, align)


def test_excursions_finds_each_episode_with_its_side_and_times():
    good = [_batch(b, [v] * 11) for b, v in (("A", 1), ("B", 2), ("C", 3))]
    bad_values = [2, 2, 9, 9, 2, 2, 2, -9, 2, 2, 2]  # above at 2-3 h, below at 7 h
    t = _table(*good, _batch("X", bad_values), _batch("Y", [2.5] * 11))
    env = envelope(t, ["A", "B", "C"], "glucose_g_L", k=3)
    exc = excursions(t, env, ["X", "Y"], "glucose_g_L")
    assert exc[["batch_id", "side", "start_h", "end_h", "n_points"]].values.tolist() == [
        ["X", "above", 2.0, 3.0, 2],
        ["X", "below", 7.0, 7.0, 1],
    ]
    assert exc["max_sd"].tolist() == pytest.approx([7.0, 11.0])


def test_excursions_on_the_cumfeed_axis_report_both_where_and_when():
    good = [_batch(b, [v] * 5) for b, v in (("A", 1), ("B", 2), ("C", 3))]
    x = _batch("X", [2, 2, 2, 2, 9], feed=20.0)  # twice the feed: 0, 20, 40 mL at 0, 1, 2 h
    t = _table(*good, x)
    env = envelope(t, ["A", "B", "C"], "glucose_g_L", align="cumfeed", k=2)
    assert env["x"].max() == pytest.approx(40.0)
    exc = excursions(t, env, ["X"], "glucose_g_L", align="cumfeed")
    assert exc.empty  # the 9 at 4 h is at 80 mL: beyond the good batches' 40 mL
