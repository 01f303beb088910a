"""Same seed -> same data; batches do not depend on n_batches; perturbations change only effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.sim import Perturbation, SimConfig, simulate

from .helpers import col


def _cfg(days: float = 4.0) -> SimConfig:
    cfg = SimConfig(run_length_days=days)
    cfg.faults.rate = 0.5
    return cfg


def test_same_seed_gives_identical_results_and_another_seed_does_not():
    a, b = simulate(_cfg(), n_batches=4, seed=11), simulate(_cfg(), n_batches=4, seed=11)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.faults, b.faults)
    pd.testing.assert_frame_equal(a.batches, b.batches)
    c = simulate(_cfg(), n_batches=4, seed=12)
    assert not np.allclose(c.batches["mu_max_1_h"], a.batches["mu_max_1_h"])


def test_a_batch_is_the_same_whatever_n_batches():
    small, big = simulate(_cfg(), n_batches=3, seed=5), simulate(_cfg(), n_batches=9, seed=5)
    head = big.table[big.table[schema.BATCH_ID].isin(small.batches[schema.BATCH_ID])]
    pd.testing.assert_frame_equal(small.table, head)
    pd.testing.assert_frame_equal(small.faults, big.faults[big.faults.batch_id.isin(head.batch_id)])


def test_table_layout_matches_the_contract():
    res = simulate(_cfg(days=3.0), n_batches=2, seed=0)
    t = res.table
    assert list(t.columns[:2]) == [schema.BATCH_ID, schema.TIME]
    assert set(schema.VARIABLE_NAMES) | set(schema.LABEL_COLUMNS) <= set(t.columns)
    assert list(t[schema.BATCH_ID].unique()) == ["B0000", "B0001"]
    rows = t[t[schema.BATCH_ID] == "B0000"]
    np.testing.assert_array_equal(rows[schema.TIME], np.arange(73.0))
    assays = rows.loc[rows["titer_mg_L"].notna(), schema.TIME].tolist()
    assert assays == [0.0, 24.0, 48.0, 72.0]
    for name in schema.OFFLINE:
        assert rows[name].notna().tolist() == rows[schema.TIME].isin(assays).tolist(), name


def test_run_length_spread_gives_batches_of_different_length():
    cfg = _cfg(days=4.0)
    cfg.run_length_spread_days = 1
    res = simulate(cfg, n_batches=12, seed=1)
    last = res.table.groupby(schema.BATCH_ID)[schema.TIME].max()
    assert set(last) <= {72.0, 96.0, 120.0} and last.nunique() >= 2
    np.testing.assert_array_equal(last.to_numpy(), res.batches["run_length_h"].to_numpy())
    harvest = res.table.groupby(schema.BATCH_ID)["titer_mg_L"].last()
    assert harvest.notna().all()  # a harvest assay on every batch's last row


def test_perturbation_by_one_changes_nothing_and_otherwise_only_after_it():
    cfg = _cfg(days=6.0)
    base = simulate(cfg, n_batches=3, seed=2)
    same = simulate(cfg, n_batches=3, seed=2, perturb=Perturbation("glucose", 50.0, 1.0))
    pd.testing.assert_frame_equal(base.table, same.table)
    up = simulate(cfg, n_batches=3, seed=2, perturb=Perturbation("vcd", 50.0, 1.2))
    before = base.table[schema.TIME] < 50.0
    pd.testing.assert_frame_equal(base.table[before], up.table[before])
    np.testing.assert_allclose(
        col(up, "vcd_1e6_cells_mL")[:, 50], 1.2 * col(base, "vcd_1e6_cells_mL")[:, 50]
    )
    assert (up.batches["harvest_titer_true_mg_L"] > base.batches["harvest_titer_true_mg_L"]).all()
    pd.testing.assert_frame_equal(base.faults, up.faults)


def test_perturbation_rejects_unknown_states():
    with pytest.raises(ValueError, match="expected one of vcd"):
        Perturbation("vcd_1e6_cells_mL", 10.0, 1.1)


def test_noise_free_dense_gives_every_assay_without_noise():
    cfg = _cfg(days=3.0)
    cfg.noise_free_dense = True
    res = simulate(cfg, n_batches=3, seed=6)
    t = res.table
    assert t[list(schema.OFFLINE)].notna().all().all()
    last = t.groupby(schema.BATCH_ID)["titer_mg_L"].last().to_numpy()
    np.testing.assert_array_equal(last, res.batches["harvest_titer_true_mg_L"].to_numpy())
    first = t.groupby(schema.BATCH_ID)["vcd_1e6_cells_mL"].first().to_numpy()
    np.testing.assert_array_equal(first, res.batches["inoculum_vcd_1e6_cells_mL"].to_numpy())


def test_assay_noise_has_the_configured_size():
    cfg = SimConfig(run_length_days=2.0)  # before the first feed: same process either way
    cfg.faults.rate = 0.0
    noisy = simulate(cfg, n_batches=40, seed=3)
    cfg.noise_free_dense = True
    true = simulate(cfg, n_batches=40, seed=3)
    at = noisy.table["titer_mg_L"].notna() & (noisy.table[schema.TIME] > 0)
    ratio = noisy.table.loc[at, "titer_mg_L"] / true.table.loc[at, "titer_mg_L"]
    assert ratio.size == 80 and 0.035 < ratio.std() < 0.07  # titer CV 5 %
    do_err = noisy.table["do_pct"] - true.table["do_pct"]
    assert 0.8 < do_err.std() < 1.2  # DO sensor sd 1 %


def test_vectorised_perturbations_equal_one_simulation_each():
    from forecaster.sim.sensitivity import harvest_titer_under

    cfg = _cfg(days=5.0)  # faults on: they must repeat in every copy too
    perts = [None, Perturbation("vcd", 50.0, 1.2), Perturbation("glucose", 75.0, 0.8),
             Perturbation("titer", 50.0, 1.1)]  # fmt: skip
    y = harvest_titer_under(cfg, perts, n_batches=3, seed=2)
    assert y.shape == (4, 3)
    for row, pt in zip(y, perts, strict=True):
        one = simulate(cfg, n_batches=3, seed=2, perturb=pt).batches["harvest_titer_true_mg_L"]
        np.testing.assert_array_equal(row, one.to_numpy())
    assert not np.array_equal(y[0], y[1])
