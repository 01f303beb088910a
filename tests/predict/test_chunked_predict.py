"""Predicting a file chunk by chunk gives the same outputs as predicting it whole."""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster import schema
from forecaster.serve.batch_reader import read_in_chunks
from forecaster.serve.outputs import TABLES, write_outputs
from forecaster.serve.predict import join_predictions, predict_file_in_chunks, predict_table


@pytest.fixture(scope="module")
def interleaved_csv(new_table, tmp_path_factory):
    """The four new batches with rows interleaved (by time, then batch), one bad value."""
    t = new_table.sort_values([schema.TIME, schema.BATCH_ID], kind="stable").reset_index(drop=True)
    t["temperature_C"] = t["temperature_C"].astype(object)
    t.loc[t.index[(t[schema.BATCH_ID] == "B0002").to_numpy()][30], "temperature_C"] = "n.a.x"
    path = tmp_path_factory.mktemp("chunked") / "new.csv"
    t.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("per_chunk", [1, 3])
def test_chunks_hold_whole_batches_with_the_files_line_numbers(
    loaded_run, interleaved_csv, per_chunk
):
    from forecaster.data.io import read_table

    whole = read_table(interleaved_csv, loaded_run.column_map)
    parts = list(read_in_chunks(interleaved_csv, loaded_run.column_map, per_chunk))
    assert len(parts) == -(-4 // per_chunk)
    joined = pd.concat(parts)
    pd.testing.assert_frame_equal(joined, whole)  # same rows, order, values and index


def test_chunked_outputs_equal_whole_outputs(loaded_run, interleaved_csv, tmp_path):
    whole = predict_table(loaded_run, interleaved_csv, top_k=3)
    parts = list(predict_file_in_chunks(loaded_run, interleaved_csv, batches_per_chunk=1, top_k=3))
    assert len(parts) == 4
    chunked = join_predictions(parts)
    assert len(chunked.problems) == 1 and "B0002" in str(chunked.problems[0])
    write_outputs(whole, tmp_path / "whole", pictures=False)
    write_outputs(chunked, tmp_path / "chunked", pictures=False)
    for name in TABLES:
        a = (tmp_path / "whole" / f"{name}.csv").read_text()
        assert a == (tmp_path / "chunked" / f"{name}.csv").read_text(), name
