"""The feature kernel carries its state explicitly: chunks equal one shot, state untouched."""

from __future__ import annotations

import numpy as np

from forecaster import schema
from forecaster.data.features import Preprocessor
from tests.synthetic import synthetic_table


def _prep_and_cols():
    table = synthetic_table(n_batches=2, n_hours=50, seed=4)
    prep = Preprocessor.fit(
        table,
        [v for v in schema.VARIABLE_NAMES if v != schema.FEED],
        ["titer_mg_L"],
        history_variables=["titer_mg_L"],
        history_lags=2,
    )
    batch = table[table[schema.BATCH_ID] == "S001"].sort_values(schema.TIME)
    cols = {c: batch[c].to_numpy(dtype=float) for c in (schema.TIME, *prep.variables)}
    return prep, cols


def test_one_shot_is_the_kernel_on_an_empty_state_and_chunks_agree():
    prep, cols = _prep_and_cols()
    whole, end = prep.transform_chunk(cols, prep.empty_state())
    np.testing.assert_array_equal(prep.transform_arrays(cols), whole)
    state, parts = prep.empty_state(), []
    for a, b in ((0, 13), (13, 14), (14, None)):
        x, state = prep.transform_chunk({c: v[a:b] for c, v in cols.items()}, state)
        parts.append(x)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert state.n_rows == end.n_rows == len(whole) and state.last_time_h == cols[schema.TIME][-1]
    np.testing.assert_array_equal(state.dense_last, end.dense_last)
    np.testing.assert_array_equal(state.assay_time_h, end.assay_time_h)


def test_kernel_does_not_change_the_state_it_is_given():
    """A caller that refuses a chunk after the kernel ran keeps its old state as it was."""
    prep, cols = _prep_and_cols()
    _, state = prep.transform_chunk({c: v[:20] for c, v in cols.items()}, prep.empty_state())
    copy = {k: np.array(v, copy=True) for k, v in vars(state).items() if k != "assay_history"}
    history = [h.copy() for h in state.assay_history]
    prep.transform_chunk({c: v[20:] for c, v in cols.items()}, state)
    for k, v in copy.items():
        np.testing.assert_array_equal(getattr(state, k), v)
    for h, h0 in zip(state.assay_history, history):
        np.testing.assert_array_equal(h, h0)
