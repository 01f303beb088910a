"""What the pages share: settings, the chosen run and data, and cached loading.

Caches are keyed on the run folder (its path and the time its manifest was written) and on
the data file (path, modification time, size), so a retrained run or an edited file is
loaded again and nothing else is. Predictions are computed chunk by chunk under a progress
bar and kept with ``st.cache_resource`` (read-only for the pages; nothing copies them).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import streamlit as st

from forecaster import schema
from forecaster.serve.app.settings import AppSettings
from forecaster.serve.predict import predict_table, read_for_run
from forecaster.serve.run_folder import LoadedRun, load_run

#: batches per predict call (one progress tick each)
CHUNK = 25
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def settings() -> AppSettings:
    """The app's settings (set by ``main.py`` once per session)."""
    return st.session_state.setdefault("app_settings", AppSettings())


def list_runs(runs: Path) -> list[str]:
    """Run folders under ``runs`` (those with a manifest), newest first."""
    if not runs.is_dir():
        return []
    found = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")
             and (p / "manifest.json").is_file()]  # fmt: skip
    found.sort(key=lambda p: (p / "manifest.json").stat().st_mtime_ns, reverse=True)
    return [p.name for p in found]


def list_data_files(folder: Path, limit: int = 500) -> list[str]:
    """CSV / Parquet files under ``folder`` (relative paths), at most ``limit``."""
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in DATA_SUFFIXES and p.is_file() and not p.name.endswith(".faults.csv"):
            out.append(str(p.relative_to(folder)))
            if len(out) >= limit:
                break
    return out


def run_dir() -> Path | None:
    """The chosen run folder (None when there is none)."""
    name = st.session_state.get("run_name")
    return settings().runs / name if name else None


def data_path() -> Path | None:
    """The chosen data file (None when none is chosen)."""
    p = st.session_state.get("data_path")
    return Path(p) if p else None


def file_key(path: Path) -> tuple[str, int, int]:
    """(path, modification time, size): changes when the file does."""
    s = path.stat()
    return str(path.resolve()), s.st_mtime_ns, s.st_size


def run_key(path: Path) -> tuple[str, int]:
    """(path, manifest time): changes when the run is retrained."""
    m = path / "manifest.json"
    return str(path.resolve()), m.stat().st_mtime_ns if m.exists() else 0


@st.cache_resource(max_entries=4, show_spinner="Loading the run folder ...")
def _load(key: tuple[str, int]) -> LoadedRun:
    return load_run(key[0])


def loaded_run() -> LoadedRun | None:
    """The chosen run, verified and loaded (raises the loader's one-line errors)."""
    d = run_dir()
    return _load(run_key(d)) if d is not None else None


@st.cache_data(max_entries=8, show_spinner=False)
def preview(key: tuple[str, int, int], rows: int = 200) -> pd.DataFrame:
    """The first rows of a file as it is (the user's column names and cells)."""
    from forecaster.data.raw import read_raw

    return read_raw(Path(key[0])).head(rows)


@st.cache_resource(max_entries=4, show_spinner="Reading and validating ...")
def _validated(rkey: tuple[str, int], dkey: tuple[str, int, int], shown: str):
    return read_for_run(_load(rkey), Path(dkey[0]))


def validated(run: LoadedRun, path: Path):
    """The file read through the run's column map and validated (a ValidationReport)."""
    return _validated(run_key(run.run_dir), file_key(path), str(path))


@st.cache_resource(max_entries=4, show_spinner=False)
def _store() -> dict:
    return {}


def predictions(run: LoadedRun, path: Path):
    """Predictions for every batch of the file (cached; a progress bar while computing)."""
    key = (run_key(run.run_dir), file_key(path))
    store = _store()
    if key in store:
        return store[key]
    report = validated(run, path)
    groups = [g for _, g in report.table.groupby(schema.BATCH_ID, sort=False)]
    parts = []
    bar = st.progress(0.0, text=f"Predicting {len(groups)} batches ...")
    for i in range(0, len(groups), CHUNK):
        chunk = pd.concat(groups[i : i + CHUNK])
        parts.append(
            predict_table(run, chunk, source=str(path), attributions=False, progress=False)
        )
        done = min(i + CHUNK, len(groups))
        bar.progress(done / max(len(groups), 1), text=f"Predicted {done} of {len(groups)} batches")
    bar.empty()
    res = merge(parts, report.problems, str(path))
    while len(store) >= 4:
        store.pop(next(iter(store)))
    store[key] = res
    return res


def merge(parts: list, problems: list, source: str):
    """One ``Predictions`` from those of chunks: tables stacked, dicts joined, seconds added."""
    if not parts:
        raise ValueError("nothing to merge")
    first = parts[0]
    values = {}
    for f in dataclasses.fields(first):
        got = [getattr(p, f.name) for p in parts]
        if isinstance(got[0], pd.DataFrame):
            frames = [g for g in got if not g.empty]
            values[f.name] = pd.concat(frames, ignore_index=True) if frames else got[0]
        elif f.name == "seconds":
            values[f.name] = {k: sum(g.get(k, 0.0) for g in got) for k in got[0]}
        elif isinstance(got[0], dict):
            values[f.name] = {k: v for g in got for k, v in g.items()}
        elif f.name == "problems":
            values[f.name] = list(problems)
        else:
            values[f.name] = got[0]
    values["source"] = source
    return type(first)(**values)
