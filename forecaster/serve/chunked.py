"""``predict`` on a large file: a few hundred batches read, predicted and drawn at a time.

The command (:func:`forecaster.serve.predict.main`) keeps only the small tables of each
chunk (one row per batch or per day) and lets its rows and per-step outputs go once their
dashboards are drawn, so memory stays bounded by a chunk, not by the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pandas as pd

from forecaster.serve.predict import CHUNK, LoadedRun, Predictions, predict_table


def predict_file_in_chunks(
    run: LoadedRun,
    path: str | os.PathLike,
    *,
    batches_per_chunk: int = CHUNK,
    strict: bool = False,
    **kwargs,
) -> Iterator[Predictions]:
    """:func:`predict_table` on a file, ``batches_per_chunk`` batches at a time.

    Memory stays bounded by a chunk (see :mod:`forecaster.serve.batch_reader`); the parts,
    joined by :func:`join_predictions`, equal one ``predict_table(run, path)``. The
    table-level checks (a used column entirely empty) apply to each chunk.

    Args:
        run, path, strict: as :func:`predict_table`; ``kwargs`` go to it too.
        batches_per_chunk: batches read, predicted and yielded together.
    """
    from forecaster.serve.batch_reader import read_in_chunks

    src = str(path)
    for table in read_in_chunks(path, run.column_map, batches_per_chunk):
        yield predict_table(run, table, source=src, strict=strict, **kwargs)


def join_predictions(parts: Sequence[Predictions]) -> Predictions:
    """One :class:`Predictions` from the parts of :func:`predict_file_in_chunks` (tables,
    problems, per-batch outputs that the parts still hold, summed seconds)."""
    first = parts[0]

    def cat(key: str) -> pd.DataFrame:
        frames = [getattr(p, key) for p in parts if len(getattr(p, key))]
        return pd.concat(frames, ignore_index=True) if frames else getattr(first, key)

    seconds: dict[str, float] = {}
    for p in parts:
        for k, v in p.seconds.items():
            seconds[k] = seconds.get(k, 0.0) + v
    return Predictions(
        predictions=cat("predictions"), trajectories=cat("trajectories"), alarms=cat("alarms"),
        attributions=cat("attributions"), problems=[e for p in parts for e in p.problems],
        batches={b: g for p in parts for b, g in p.batches.items()},
        steps={b: s for p in parts for b, s in p.steps.items()},
        events={b: e for p in parts for b, e in p.events.items()},
        source=first.source, seconds=seconds, quantiles=list(first.quantiles),
    )  # fmt: skip
