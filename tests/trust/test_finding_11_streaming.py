"""Issue #14, finding 11: ``predict`` holds a chunk of batches in memory, never the file.

The trial's 199 MB CSV (2,200 batches) peaked at 2.87 GB because the whole table, every
batch's rows and every batch's per-step outputs were held until the end. The peak itself is
measured by ``benchmarks/bench_predict.py``; this test pins the behaviour that bounds it:
the command reads and predicts one chunk at a time and lets each chunk's rows go before
the next is read (dashboards are drawn per chunk before that; pictures are off here to keep
the test to seconds).
"""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster import schema
from forecaster.cli import cli_main
from forecaster.serve import batch_reader
from forecaster.serve import predict as predict_mod


def test_predict_command_reads_predicts_and_draws_one_chunk_at_a_time(
    run_dir, new_table, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "new.csv"
    two = new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001"])]
    two.to_csv(path, index=False)
    log: list[tuple[str, int]] = []

    real_read = batch_reader.read_in_chunks

    def one_batch_per_chunk(src, column_map, per_chunk, process=None):
        assert per_chunk >= 1
        for table in real_read(src, column_map, 1, process=process):
            log.append(("read", table[schema.BATCH_ID].nunique()))
            yield table

    real_predict = predict_mod.predict_table

    def predict_spy(run, table, **kw):
        assert isinstance(table, pd.DataFrame), "predict read the whole file at once"
        log.append(("predict", table[schema.BATCH_ID].nunique()))
        return real_predict(run, table, **kw)

    real_join = predict_mod.join_predictions

    def join_spy(parts):
        # each chunk's rows and per-step outputs were let go before the next chunk was read
        assert all(not p.batches and not p.steps and not p.events for p in parts)
        return real_join(parts)

    monkeypatch.setattr(batch_reader, "read_in_chunks", one_batch_per_chunk)
    monkeypatch.setattr(predict_mod, "predict_table", predict_spy)
    monkeypatch.setattr(predict_mod, "join_predictions", join_spy)
    out = tmp_path / "out"
    argv = [
        "--run",
        str(run_dir),
        "--input",
        str(path),
        "--out",
        str(out),
        "--no_attributions",
        "--no_pictures",
    ]
    with pytest.raises(SystemExit) as ex:
        cli_main(lambda: predict_mod.main(argv))
    assert ex.value.code == 0, capsys.readouterr().err
    # read one, predict it, read the next: never two chunks read ahead of their prediction
    assert log == [("read", 1), ("predict", 1)] * 2
    assert len(pd.read_csv(out / "predictions.csv")) == 2


def test_default_chunk_is_a_few_hundred_batches():
    import inspect

    default = inspect.signature(predict_mod.predict_file_in_chunks).parameters
    assert 1 <= default["batches_per_chunk"].default <= 500  # 2,000 batches: several chunks
