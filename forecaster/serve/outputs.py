"""Writing the outputs of ``predict``: tables, dashboards and ``report.md``, all or nothing.

Before any computing, :func:`out_lock` checks that ``--out`` can be written, refuses a
non-empty folder that predict did not write (unless ``overwrite``) and takes a lock file
beside it (``.<name>.lock``, created with ``O_EXCL``), so a second predict writing the same
folder stops with a clear message instead of mixing files.

Everything is first written into a temporary folder beside ``--out``; only when every file
is complete is it moved into place. If ``--out`` does not exist (or is empty) the temporary
folder is renamed onto it in one step. If it already holds files, each output file replaces
its old version by rename, then the manifest ``.forecaster-predict.json`` (the list of files
predict wrote, which also marks the folder as predict's) is replaced. Of the files already
there, only those the previous manifest lists and this call did not write again (e.g. the
dashboard of a batch no longer in the input) are deleted; any other file is the user's and
is left alone. An error before that point leaves ``--out`` exactly as it was and removes the
temporary folder.

Files: ``predictions.csv``, ``trajectories.csv``, ``alarms.csv``, ``attributions.csv``,
``problems.csv`` (skipped batches), ``dashboards/<batch>.png``, ``report.md`` and the
manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from forecaster.data.errors import DataError
from forecaster.serve.display import NO_FEED

TABLES = ("predictions", "trajectories", "alarms", "attributions", "problems")
#: The manifest: which files predict wrote into the folder (and that the folder is its own).
MANIFEST = ".forecaster-predict.json"
#: What a manifest may name (a tampered one cannot make predict delete anything else).
_OWN_FILE = re.compile(r"(?:(?:predictions|trajectories|alarms|attributions|problems)\.csv"
                       r"|report\.md|dashboards/[A-Za-z0-9][A-Za-z0-9._-]*\.png)")  # fmt: skip
PROBLEM_COLUMNS = ["batch_id", "file", "column", "rows", "kind", "message"]


def problem_line(err: DataError) -> str:
    """One line of a skipped batch's problem (the error's own message)."""
    return " ".join(str(err).split())


def problems_frame(problems: list[DataError]) -> pd.DataFrame:
    """One row per skipped batch."""
    rows = [
        (
            p.batch,
            p.file,
            p.column,
            " ".join(str(r) for r in p.rows),
            type(p).__name__,
            problem_line(p),
        )
        for p in problems
    ]
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS)


def safe_name(batch_id: str, taken: set[str]) -> str:
    """File-name-safe, unique stem for a batch id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(batch_id)).strip("._") or "batch"
    stem = stem[:80]
    name, k = stem, 1
    while name.lower() in taken:
        k += 1
        name = f"{stem}_{k}"
    taken.add(name.lower())
    return name


def write_outputs(
    res,
    out: str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    pictures: bool = True,
    progress: bool | None = None,
    overwrite: bool = False,
) -> Path:
    """Write all outputs of one predict call into ``out``, atomically (see module docstring).

    Args:
        res: :class:`forecaster.serve.predict.Predictions`.
        out: output folder.
        run_dir: run folder, named in the report.
        pictures: draw one dashboard PNG per batch.
        progress: progress bar while drawing (None: 50 batches or more).
        overwrite: write into a non-empty folder that predict did not write (its files are
            kept).

    Returns:
        The output folder.
    """
    with OutputWriter(out, run_dir=run_dir, pictures=pictures, progress=progress,
                      overwrite=overwrite) as writer:  # fmt: skip
        writer.add_dashboards(res)
        return writer.finish(res)


class OutputWriter:
    """The outputs of one predict call, written part by part (``predict`` streams batches).

    Dashboards are drawn as each chunk of batches is predicted (:meth:`add_dashboards`), so
    the chunk's rows and per-step outputs can be let go; the tables, ``report.md`` and the
    manifest are written by :meth:`finish`, which moves everything into ``out``. Leaving
    the ``with`` block without :meth:`finish` (an error) removes the temporary folder and
    leaves ``out`` as it was.
    """

    def __init__(self, out, *, run_dir=None, pictures: bool = True,
                 progress: bool | None = None, overwrite: bool = False) -> None:  # fmt: skip
        self.out, self.run_dir, self.pictures = Path(out), run_dir, pictures
        self.progress = progress
        check_out(self.out, overwrite)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self.figures: dict[str, str] = {}
        self._taken: set[str] = set()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def add_dashboards(self, res) -> None:
        """Draw the dashboard of every batch of ``res`` (a chunk's :class:`Predictions`)."""
        if not self.pictures or res.predictions.empty:
            return
        from tqdm.auto import tqdm

        from forecaster.serve.dashboard import save_dashboard

        (self.tmp / "dashboards").mkdir(exist_ok=True)
        ids = list(res.predictions["batch_id"])
        show = len(ids) >= 50 if self.progress is None else self.progress
        for b in tqdm(
            ids, desc="dashboards", unit="batch", disable=not show, file=sys.stderr, leave=False
        ):
            rel = f"dashboards/{safe_name(b, self._taken)}.png"
            save_dashboard(res, b, self.tmp / rel)
            self.figures[b] = rel

    def finish(self, res) -> Path:
        """Write the tables and the report of ``res`` (all chunks) and move into ``out``."""
        files = _write_all(res, self.tmp, self.run_dir, self.figures)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest = {"written_by": "forecaster predict", "written": stamp, "files": files}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _commit(self.tmp, self.out, files)
        return self.out


def check_out(out: Path, overwrite: bool = False) -> None:
    """Refuse a file, or a non-empty folder predict did not write (unless ``overwrite``)."""
    if out.exists() and not out.is_dir():
        raise DataError("--out exists and is not a folder", file=str(out))
    if out.is_dir() and not (out / MANIFEST).exists() and not overwrite:
        if any(out.iterdir()):
            raise DataError(
                "--out is a folder with files that predict did not write; choose a new or "
                "empty folder, or add --overwrite to write into it (other files are kept)",
                file=str(out),
            )


@contextmanager
def out_lock(out: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Check ``out`` can be written and hold its lock for the duration (before computing).

    Raises:
        DataError: ``out`` is a file, a foreign non-empty folder, cannot be written, or
            another predict holds its lock.
    """
    out = Path(out)
    check_out(out, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the folder: {_why(err)}", file=str(out.parent)) from None
    lock = out.parent / f".{out.name}.lock"
    _take(lock, out)
    try:
        if out.is_dir():  # replacing files inside needs write access there too
            try:
                fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
                os.close(fd)
                os.unlink(probe)
            except OSError as err:
                raise DataError(f"cannot write into --out: {_why(err)}", file=str(out)) from None
        yield out
    finally:
        lock.unlink(missing_ok=True)


def _why(err: OSError) -> str:
    return (err.strerror or str(err)).lower()


def _take(lock: Path, out: Path) -> None:
    """Create ``lock`` exclusively; a lock left by a dead process on this host is replaced."""
    for attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(lock)
            if attempt == 0 and _is_stale(holder):
                lock.unlink(missing_ok=True)
                continue
            raise DataError(
                f"another predict is writing this folder (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')}); wait for it, or "
                f"delete {lock} if that process is gone",
                file=str(out),
            ) from None
        except OSError as err:
            raise DataError(f"cannot write --out here: {_why(err)}", file=str(out)) from None
        since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with os.fdopen(fd, "w") as fh:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": since}, fh)
        return


def _read_lock(lock: Path) -> dict:
    try:
        data = json.loads(lock.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _is_stale(holder: dict) -> bool:
    """The lock's process is gone (only decidable for a process on this host)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def user_tables(res) -> dict[str, pd.DataFrame]:
    """The tables of ``res`` in the user's names, units and dates (see ``display.py``)."""
    from forecaster.serve.display import OutputNames

    disp = getattr(res, "display", None) or OutputNames()
    return {
        "predictions": disp.predictions(res.predictions),
        "trajectories": disp.trajectories(res.trajectories),
        "alarms": disp.alarms(res.alarms),
        "attributions": disp.attributions(res.attributions),
    }


def _write_all(res, folder: Path, run_dir, figures: dict[str, str]) -> list[str]:
    """Write the tables and the report into ``folder``; returns every output's path in it."""
    tables = user_tables(res)
    tables["predictions"].to_csv(folder / "predictions.csv", index=False)
    tables["trajectories"].to_csv(folder / "trajectories.csv", index=False, float_format="%.6g")
    tables["alarms"].to_csv(folder / "alarms.csv", index=False)
    tables["attributions"].to_csv(folder / "attributions.csv", index=False, float_format="%.6g")
    problems_frame(res.problems).to_csv(folder / "problems.csv", index=False)
    text = report_markdown(res, run_dir, figures, tables)
    (folder / "report.md").write_text(text, encoding="utf-8")
    return [*(f"{t}.csv" for t in TABLES), *figures.values(), "report.md"]


def _commit(tmp: Path, out: Path, files: list[str]) -> None:
    """Move the finished outputs into ``out`` (one rename when ``out`` is new or empty)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return
    before = _own_files(out)
    if any(f.startswith("dashboards/") for f in files):
        (out / "dashboards").mkdir(exist_ok=True)
    for rel in files:
        os.replace(tmp / rel, out / rel)
    os.replace(tmp / MANIFEST, out / MANIFEST)
    for rel in sorted(before - set(files)):  # stale outputs of the previous call, and only those
        (out / rel).unlink(missing_ok=True)
    dash = out / "dashboards"
    if dash.is_dir() and not any(dash.iterdir()):
        dash.rmdir()


def _own_files(out: Path) -> set[str]:
    """The files the previous manifest in ``out`` lists (none without a manifest)."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {f for f in listed if isinstance(f, str) and _OWN_FILE.fullmatch(f)}


def _md_table(df: pd.DataFrame, max_rows: int = 50) -> str:
    if df.empty:
        return "_none_\n"
    shown = df.head(max_rows)
    cells = [[_fmt(v) for v in row] for row in shown.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * shown.shape[1]]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
    if len(df) > max_rows:
        lines.append(f"\n... {len(df) - max_rows} more rows in the CSV file")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return " ".join(str(v).split())


def report_markdown(res, run_dir, figures: dict[str, str], tables=None) -> str:
    """``report.md``: what was predicted, links to every table and dashboard, problems.

    ``tables``: :func:`user_tables` of ``res`` (computed when not given).
    """
    tables = tables or user_tables(res)
    disp = getattr(res, "display", None)
    product, short, feed_text = (
        "titer",
        "titer",
        "Feed: the recommended rate for the next step, in mL/h.",
    )
    if disp is not None and disp.column(disp.product) != disp.product:  # the user's words
        name, unit = disp.column(disp.product), disp.unit(disp.product)
        product = name if unit and unit in name else f"{name} ({unit})"
        short = name
    if disp is not None and disp.process.feed is None:
        feed_text = f"Feed: {NO_FEED}."
    elif disp is not None and disp.column(disp.product) != disp.product:
        feed_text = (
            f"Feed: the recommended rate for the next step, in {disp.unit(disp.process.feed)}."
        )
    alarm_cols = ["batch_id", "detector", "rule", "start_h", "start_time", "end_h", "reason"]
    alarms = tables["alarms"][[c for c in alarm_cols if c in tables["alarms"].columns]]
    n_pred, n_skip = len(res.predictions), len(res.problems)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Predictions",
        "",
        f"- input: `{res.source}`",
        f"- run folder: `{run_dir}`" if run_dir is not None else "- run folder: (in memory)",
        f"- written: {stamp}",
        f"- batches predicted: {n_pred}; skipped with a problem: {n_skip}; alarms: {len(res.alarms)} "
        f"events in {_n_incidents(res.alarms)} incidents",
        "",
        "Files: [predictions.csv](predictions.csv) (one row per batch), "
        f"[trajectories.csv](trajectories.csv) (daily {short} forecast with its 80 % band), "
        "[alarms.csv](alarms.csv), [attributions.csv](attributions.csv) (top variables behind "
        f"the harvest {short} forecast), [problems.csv](problems.csv).",
        "",
        f"Harvest {product}: median forecast with its 80 % interval (10th to 90th "
        f"percentile). {feed_text}",
        "",
        "## Forecasts",
        "",
        _md_table(tables["predictions"]),
        "## Alarms",
        "",
        _md_table(alarms),
    ]
    if n_skip:
        lines += ["## Skipped batches", ""]
        lines += [f"- {problem_line(p)}" for p in res.problems]
        lines.append("")
    if figures:
        lines += ["## Dashboards", ""]
        lines += [f"- [{b}]({rel})" for b, rel in figures.items()]
        lines.append("")
    return "\n".join(lines)


def _n_incidents(alarms: pd.DataFrame) -> int:
    """Incidents among the alarm events (events of one fault form one incident)."""
    keys = [c for c in ("batch_id", "incident_id") if c in alarms.columns]
    return len(alarms[keys].drop_duplicates()) if "incident_id" in keys else len(alarms)
