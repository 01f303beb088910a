"""The foreign learning curve's core: process-improve batches read as a run reads them, the
ladder on the first n batches, coverage pooled over days and the bars of the issue.

If the reading path drifted from the config's (names, hours, the titer only at harvest) the
curve would score a table no run sees; if pooling or the bars were wrong, the README's verdict
at 20 batches would be too.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("process_improve.simulation", reason="process-improve is not installed")

from benchmarks.bench_small_data_foreign import (  # noqa: E402
    bars,
    by_batch,
    one,
    pooled_coverage,
    read_export,
    summarise,
)
from benchmarks.foreign_export import simulate  # noqa: E402


@pytest.fixture(scope="module")
def canonical(tmp_path_factory):
    """14 process-improve batches through the example config: (table, process, tiny cfg)."""
    table, process, cfg = read_export(simulate(14, seed=0), tmp_path_factory.mktemp("pi"))
    cfg = replace(cfg, rf=replace(cfg.rf, n_estimators=[10], min_samples_leaf=[2], n_jobs=1))
    return table, process, cfg


def test_read_export_gives_the_canonical_table(canonical):
    table, process, _ = canonical
    assert process.product == "titer_g_L"
    assert {"batch_id", "time_h", "ph", "do_pct", "volume_L", "seed_viability_pct"} <= set(table)
    one_batch = by_batch(table)["PI-001"]
    assert one_batch["time_h"].tolist()[:2] == [12.0, 24.0]  # days in the file, hours here
    assert one_batch["time_h"].max() == 240.0
    titer = one_batch["titer_g_L"]
    assert titer.iloc[:-1].isna().all() and titer.iloc[-1] > 0  # measured only at harvest


def test_one_runs_the_harvest_only_ladder(canonical):
    table, process, cfg = canonical
    groups = by_batch(table)
    ids = sorted(groups)
    pool = {b: groups[b] for b in ids[:10]}
    test = pd.concat([groups[b] for b in ids[10:]])
    m = one(pool, test, 10, 0, process, cfg, (3, 7))
    assert set(m["ladder"]["rungs"]) == {"naive_mean", "ridge_summary", "rf"}
    assert "naive_ratio" in m["ladder"]["skipped"]
    assert m["ladder"]["n_batches"] == {"cv": 10, "val": 2, "test": 4}
    for rung in ("naive_mean", "ridge_summary", "rf", "chosen"):
        for d in ("3", "7"):
            assert 0 <= m[rung]["harvest_mape_by_day"][d] < 1
    assert set(m["chosen"]["rung_by_day"]) == {"3", "7"}
    assert m["wall_s"] > 0
    with pytest.raises(ValueError, match="11 training batches asked for, the campaign holds 10"):
        one(pool, test, 11, 0, process, cfg, (3,))


@pytest.mark.slow
def test_one_adds_the_sequence_model_on_a_tiny_budget(canonical, tmp_path):
    table, process, cfg = canonical
    groups = by_batch(table)
    ids = sorted(groups)
    pool = {b: groups[b] for b in ids[:10]}
    test = pd.concat([groups[b] for b in ids[10:]])
    m = one(pool, test, 10, 0, process, cfg, (3,), sequence_epochs=1, work=tmp_path)
    assert "sequence" in m["ladder"]["rungs"]
    assert m["sequence_fit"]["epochs"] <= 1
    assert 0 <= m["sequence"]["harvest_mape_by_day"]["3"] < 1


def test_pooled_coverage_weights_days_by_batches_and_skips_missing():
    block = {
        "coverage": {"80": {"3": 1.0, "5": 0.5}, "95": {"3": float("nan"), "5": None}},
        "n_batches": {"test": {"3": 30, "5": 10}},
    }
    got = pooled_coverage(block)
    assert got["80"] == pytest.approx((30 * 1.0 + 10 * 0.5) / 40)
    assert got["95"] is None


def _run(chosen: float, naive: float, off: float) -> dict:
    """A seed's ladder metrics on days 3 and 5; coverage ``off`` from nominal at 80 and 90 %."""
    block = lambda m: {  # noqa: E731
        "harvest_mape_by_day": {"3": m, "5": m},
        "coverage": {
            lv: {"3": int(lv) / 100 + off, "5": int(lv) / 100 + off} for lv in ("80", "90")
        },
        "n_batches": {"test": {"3": 10, "5": 10}},
    }
    return {"naive_mean": block(naive), "ridge_summary": block(naive), "rf": block(naive),
            "chosen": block(chosen) | {"rung_by_day": {"3": "rf", "5": "rf"}}, "wall_s": 1.0}  # fmt: skip


def test_bars_pass_and_fail_on_the_means_over_seeds():
    runs = {"20/0": _run(0.08, 0.10, 0.04), "20/1": _run(0.10, 0.10, 0.04)}
    s = summarise(runs, [20], [0, 1], (3, 5))
    assert s["20"]["mape"]["chosen"]["3"]["mean"] == pytest.approx(0.09)
    b = bars(s)
    assert b["mape_vs_best_naive"]["3"]["ok"]
    assert b["coverage_within_5_points"]["80"]["ok"]  # 84 % against 80 %: within 5 points
    assert b["all_ok"]
    worse = summarise({"20/0": _run(0.12, 0.10, -0.1), "20/1": _run(0.10, 0.10, -0.1)},
                      [20], [0, 1], (3, 5))  # fmt: skip
    b = bars(worse)
    assert not b["mape_vs_best_naive"]["5"]["ok"]
    assert not b["coverage_within_5_points"]["80"]["ok"]
    assert not b["coverage_within_5_points"]["90"]["ok"] and not b["all_ok"]
    assert math.isclose(worse["20"]["coverage_pooled"]["chosen"]["90"], 0.80)
    assert np.isfinite(worse["20"]["wall_s"])
