"""StreamingFeatures must reproduce Preprocessor.transform_batch for any chunking."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.data.streaming import StreamingFeatures
from tests.synthetic import synthetic_table


@pytest.fixture(scope="module")
def batch_and_prep():
    table = synthetic_table(n_batches=3, n_hours=60, seed=1)
    # log-scaled variables on both paths: an assay (titer) and a dense signal (DO)
    logs = ["titer_mg_L", "vcd_1e6_cells_mL", "do_pct"]
    prep = Preprocessor.fit(
        table,
        [v for v in schema.VARIABLE_NAMES if v != schema.FEED],
        logs,
        history_variables=["titer_mg_L", "lactate_g_L", "do_pct"],  # do_pct: not an assay
        history_lags=3,
    )
    assert prep.log_variables == logs
    assert prep.history_variables == ["titer_mg_L", "lactate_g_L"]
    batch = table[table[schema.BATCH_ID] == "S001"].reset_index(drop=True)
    # gaps in a dense signal (carried forward across chunk borders) and a late first assay
    batch.loc[[5, 6, 7, 30], "do_pct"] = np.nan
    batch.loc[:40, "lactate_g_L"] = np.nan
    return batch, prep


@pytest.mark.parametrize("sizes", [[1], [7], [3, 1, 10], [61]])
def test_chunks_equal_one_shot(batch_and_prep, sizes):
    batch, prep = batch_and_prep
    full = prep.transform_batch(batch)
    stream = StreamingFeatures(prep)
    parts, i, k = [], 0, 0
    while i < len(batch):
        n = sizes[k % len(sizes)]
        parts.append(stream.update(batch.iloc[i : i + n]))
        i, k = i + n, k + 1
    got = np.concatenate(parts)
    assert got.shape == full.shape
    np.testing.assert_array_equal(got, full)
    assert stream.n_rows == len(batch)
    assert stream.last_time_h == batch[schema.TIME].iloc[-1]


def test_dense_gap_at_chunk_start_carries_previous_value(batch_and_prep):
    batch, prep = batch_and_prep
    stream = StreamingFeatures(prep)
    first = stream.update(batch.iloc[:5])
    gap = stream.update(batch.iloc[5:8])  # do_pct missing in all three rows
    j = prep.value_index("do_pct")
    assert np.all(gap[:, j] == first[-1, j])
    assert np.all(np.isfinite(gap))


def test_empty_chunk_keeps_state(batch_and_prep):
    batch, prep = batch_and_prep
    stream = StreamingFeatures(prep)
    stream.update(batch.iloc[:3])
    assert stream.update(batch.iloc[3:3]).shape == (0, prep.n_features)
    assert stream.n_rows == 3
