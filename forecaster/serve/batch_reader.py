"""Read a large CSV batch table a few hundred batches at a time (``predict`` streams it).

Two passes over the file, neither holding it whole: the first finds every line's batch id
(only that field is parsed), the second copies each data line, byte for byte, into the
temporary CSV of its chunk (header line first). Chunks hold ``batches_per_chunk`` batches in
the order :func:`forecaster.data.io.read_table` sorts them (by batch id, rows without an id
last), so a batch's rows are never split, even where the file interleaves batches. Each
chunk file is then read by :func:`~forecaster.data.io.read_table` with the run's column map,
the same reader, unit conversion and checks as a whole-file read; its index is set back to
the lines of the original file so every message names the user's line numbers.

Files it cannot split safely (not plain CSV, UTF-16, a quoted field running over a line
break, a batch-id column it cannot find) are returned whole, as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError

_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_BLANK_IDS = {"", "na", "n/a", "nan", "none", "null", "-"}


def _split(line: bytes, sep: bytes) -> list[bytes]:
    return line.rstrip(b"\r\n").split(sep)


def _plan(path: Path, id_name: str) -> tuple[bytes, np.ndarray, list[str]] | None:
    """Header line, per data line the code of its batch (-1 blank line), the batch names.

    None when the file cannot be split safely line by line.
    """
    with open(path, "rb") as fh:
        header = fh.readline()
        if header[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return None
        text = header.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        tab = path.suffix.lower() == ".tsv"
        seps = ["\t"] if tab else sorted((",", ";", "\t"), key=lambda s: -text.count(s))
        names = [n.strip().strip('"').strip() for n in text.split(seps[0])]
        if id_name not in names or b'"' in header:
            return None
        col, sep = names.index(id_name), seps[0].encode()
        codes: dict[str, int] = {}
        out = []
        for line in fh:
            if b'"' in line:  # quoting could hide separators or line breaks: read it whole
                return None
            if not line.strip():
                out.append(-1)
                continue
            fields = _split(line, sep)
            raw = fields[col] if col < len(fields) else b""
            bid = raw.decode("utf-8", errors="replace").strip()
            bid = "" if bid.lower() in _BLANK_IDS else bid
            out.append(codes.setdefault(bid, len(codes)))
    return header, np.asarray(out, dtype=np.int64), list(codes)


def read_in_chunks(
    path: str | os.PathLike, column_map, batches_per_chunk: int, process=None
) -> Iterator[pd.DataFrame]:
    """Canonical tables of consecutive groups of batches of a CSV file.

    Args:
        path: the user's file.
        column_map: the run's :class:`~forecaster.data.column_map.ColumnMap`.
        batches_per_chunk: batches per table (the last may hold fewer).
        process: the run's process definition (None: the CHO preset), as ``read_table``'s.

    Yields:
        What ``read_table(path, column_map)`` returns, restricted to the chunk's batches:
        rows sorted by batch, index = 0-based data row of the original file.

    Raises:
        DataError: as :func:`~forecaster.data.io.read_table`, naming ``path``.
    """
    from forecaster.data.io import read_table

    src, path = str(path), Path(path)
    plan = None
    if path.suffix.lower() in _CSV_SUFFIXES and path.is_file():
        plan = _plan(path, column_map.source_name(schema.BATCH_ID))
    if plan is None or len(plan[2]) <= batches_per_chunk:
        yield read_table(path, column_map, process=process, strict=False)
        return
    header, line_codes, names = plan
    # the order read_table sorts batches in: by id, rows without an id last
    order = sorted(range(len(names)), key=lambda k: (names[k] == "", names[k]))
    chunk_of = np.empty(len(names), dtype=np.int64)
    chunk_of[order] = np.arange(len(names)) // batches_per_chunk
    line_chunk = np.where(line_codes >= 0, chunk_of[np.maximum(line_codes, 0)], -1)
    n_chunks = int(chunk_of.max()) + 1
    tmp = Path(tempfile.mkdtemp(prefix=".predict-chunks-", dir=path.parent))
    try:
        files = [tmp / f"chunk{k:05d}{path.suffix}" for k in range(n_chunks)]
        handles = [open(f, "wb") for f in files]
        try:
            for h in handles:
                h.write(header)
            with open(path, "rb") as fh:
                fh.readline()
                for k, line in zip(line_chunk, fh):
                    if k >= 0:
                        handles[k].write(line if line.endswith(b"\n") else line + b"\n")
        finally:
            for h in handles:
                h.close()
        for k, f in enumerate(files):
            rows = np.flatnonzero(line_chunk == k)  # original data rows, in file order
            try:
                table = read_table(f, column_map, process=process, strict=False)
            except DataError as err:
                err.file = src
                raise
            finally:
                f.unlink(missing_ok=True)
            table.index = rows[table.index.to_numpy()]
            yield table
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
