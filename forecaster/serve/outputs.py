"""Writing the outputs of ``predict``: tables, dashboards and ``report.md``, all or nothing.

Everything is first written into a temporary folder beside ``--out``; only when every file
is complete is it moved into place. If ``--out`` does not exist (or is empty) the temporary
folder is renamed onto it in one step. If it already holds files, each output file replaces
its old version by rename and the ``dashboards/`` folder is swapped as a whole; other files
the user keeps there are left alone. An error before that point leaves ``--out`` exactly as
it was and removes the temporary folder.

Files: ``predictions.csv``, ``trajectories.csv``, ``alarms.csv``, ``attributions.csv``,
``problems.csv`` (skipped batches), ``dashboards/<batch>.png`` and ``report.md``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from forecaster.data.errors import DataError

TABLES = ("predictions", "trajectories", "alarms", "attributions", "problems")
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
) -> Path:
    """Write all outputs of one predict call into ``out``, atomically (see module docstring).

    Args:
        res: :class:`forecaster.predict.Predictions`.
        out: output folder.
        run_dir: run folder, named in the report.
        pictures: draw one dashboard PNG per batch.
        progress: progress bar while drawing (None: 50 batches or more).

    Returns:
        The output folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError("--out exists and is not a folder", file=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _write_all(res, tmp, run_dir, pictures, progress)
        _commit(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_all(res, folder: Path, run_dir, pictures: bool, progress: bool | None) -> None:
    res.predictions.to_csv(folder / "predictions.csv", index=False)
    res.trajectories.to_csv(folder / "trajectories.csv", index=False, float_format="%.6g")
    res.alarms.to_csv(folder / "alarms.csv", index=False)
    res.attributions.to_csv(folder / "attributions.csv", index=False, float_format="%.6g")
    problems_frame(res.problems).to_csv(folder / "problems.csv", index=False)
    figures: dict[str, str] = {}
    if pictures:
        from tqdm.auto import tqdm

        from forecaster.serve.dashboard import save_dashboard

        (folder / "dashboards").mkdir()
        taken: set[str] = set()
        ids = list(res.predictions["batch_id"])
        show = len(ids) >= 50 if progress is None else progress
        for b in tqdm(
            ids, desc="dashboards", unit="batch", disable=not show, file=sys.stderr, leave=False
        ):
            rel = f"dashboards/{safe_name(b, taken)}.png"
            save_dashboard(res, b, folder / rel)
            figures[b] = rel
    (folder / "report.md").write_text(report_markdown(res, run_dir, figures), encoding="utf-8")


def _commit(tmp: Path, out: Path) -> None:
    """Move the finished outputs into ``out`` (one rename when ``out`` is new or empty)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
        return
    old_dash = out / "dashboards"
    parked = None
    if old_dash.exists():
        parked = out / f".dashboards.old-{uuid.uuid4().hex[:8]}"
        os.replace(old_dash, parked)
    if (tmp / "dashboards").exists():
        os.replace(tmp / "dashboards", old_dash)
    for name in [*(f"{t}.csv" for t in TABLES), "report.md"]:
        os.replace(tmp / name, out / name)
    if parked is not None:
        shutil.rmtree(parked, ignore_errors=True)


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


def report_markdown(res, run_dir, figures: dict[str, str]) -> str:
    """``report.md``: what was predicted, links to every table and dashboard, problems."""
    n_pred, n_skip = len(res.predictions), len(res.problems)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Predictions",
        "",
        f"- input: `{res.source}`",
        f"- run folder: `{run_dir}`" if run_dir is not None else "- run folder: (in memory)",
        f"- written: {stamp}",
        f"- batches predicted: {n_pred}; skipped with a problem: {n_skip}; alarms: {len(res.alarms)}",
        "",
        "Files: [predictions.csv](predictions.csv) (one row per batch), "
        "[trajectories.csv](trajectories.csv) (daily titer forecast with its 80 % band), "
        "[alarms.csv](alarms.csv), [attributions.csv](attributions.csv) (top variables behind "
        "the harvest-titer forecast), [problems.csv](problems.csv).",
        "",
        "Harvest titer: median forecast with its 80 % interval (10th to 90th percentile). "
        "Feed: the recommended rate for the next step, in mL/h.",
        "",
        "## Forecasts",
        "",
        _md_table(res.predictions),
        "## Alarms",
        "",
        _md_table(res.alarms[["batch_id", "detector", "rule", "start_h", "end_h", "reason"]]),
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
