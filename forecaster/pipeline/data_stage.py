"""Load the run's batches (simulated or the user's file) and split them by batch."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.io import atomic_write_text, load_table
from forecaster.data.process import Process
from forecaster.data.process_config import build_process
from forecaster.data.splits import split_batches
from forecaster.data.time_grid import detect_cadence


@dataclass
class RunData:
    table: pd.DataFrame
    faults: pd.DataFrame
    splits: dict[str, list[str]]
    faulty: set[str]
    has_labels: bool
    batch_info: pd.DataFrame | None
    summary: dict
    sim: object = None  # the SimConfig actually used (seed included), None for user data
    process: Process | None = None  # the resolved process definition (also process.json)


def _faulty_ids(table: pd.DataFrame, faults: pd.DataFrame) -> set[str]:
    ids = set(faults[schema.BATCH_ID].astype(str)) if len(faults) else set()
    if schema.FAULT_LABEL in table:
        ids |= set(table.loc[table[schema.FAULT_LABEL] > 0, schema.BATCH_ID].astype(str))
    return ids


#: fewer fault-free test batches than this and the run says its test metrics mean little
MIN_MEANINGFUL_TEST = 5


def min_split_sizes(cfg) -> dict[str, int]:
    """Fault-free batches each split needs for the stages this config runs.

    The forecaster needs training and validation batches (early stopping); the anomaly
    stage needs validation batches to calibrate on, and its PCA monitor three training
    batches; evaluation needs a test batch.
    """
    pca = cfg.anomaly.enabled and cfg.anomaly.pca.enabled
    return {"train": 3 if pca else 1, "val": 1, "test": 1}


def check_split_sizes(cfg, splits: dict[str, list[str]], faulty: set[str], source: str) -> None:
    """Refuse, before any training, a split too small for the stages of this run.

    Raises:
        ConfigError: one line naming the split, what it needs and what it got.
    """
    for split, need in min_split_sizes(cfg).items():
        got = len([b for b in splits[split] if b not in faulty])
        if got < need:
            sizes = "/".join(str(len(splits[k])) for k in ("train", "val", "test"))
            raise ConfigError(
                f"{source}: the {split} split has {got} fault-free batch(es), at least {need} "
                f"needed (train/val/test = {sizes} batches of {sum(map(len, splits.values()))}); "
                "use more batches (--sim.n_batches) or change data.split"
            )


def unchecked_columns(cfg, process: Process) -> set[str]:
    """Variables this run does not use, so their ranges are not checked.

    ``model.exclude_inputs`` less the product and the feed (targets, still read).
    """
    excluded = set(getattr(cfg.model, "exclude_inputs", None) or ())
    return excluded - set(process.targets)


def load_data(cfg, run_dir: Path) -> RunData:
    """Simulate (``data.path`` empty) or read + validate the user's table; split by batch.

    The resolved process definition and the column map are written to
    ``<run_dir>/process.json`` and ``column_map.json`` (plain values) so prediction reads
    them back instead of the training config. Simulated data use the ``cho_fedbatch`` preset.
    """
    batch_info = sim_cfg = None
    process = build_process(getattr(cfg.data, "process", None))
    if cfg.data.path:
        path = Path(cfg.data.path)
        table = load_table(
            path,
            cfg.data.column_map,
            min_rows=2,
            strict=True,
            process=process,
            unchecked=unchecked_columns(cfg, process),
        ).table
        fpath = (
            Path(cfg.data.faults_path)
            if cfg.data.faults_path
            else path.with_name(path.stem + ".faults.csv")
        )
        if cfg.data.faults_path and not fpath.exists():
            raise ConfigError(f"fault table {fpath} not found (data.faults_path)", file=str(fpath))
        if fpath.exists():
            faults = pd.read_csv(fpath, dtype={schema.BATCH_ID: str})
        else:
            faults = pd.DataFrame(columns=list(schema.FAULT_TABLE_COLUMNS))
        has_labels = fpath.exists() or schema.FAULT_LABEL in table
        source = str(path)
    else:
        if not process.name.startswith("cho_fedbatch"):
            raise ConfigError(
                f"data.process: the simulator produces CHO data (cho_fedbatch), not {process.name}; "
                "set data.path to your file or leave data.process out"
            )
        from forecaster.sim import simulate

        sim_cfg = replace(cfg.sim, seed=cfg.seed)
        res = simulate(sim_cfg, progress=cfg.trainer.enable_progress_bar)
        table, faults, batch_info = res.table, res.faults, res.batches
        has_labels = True
        source = "simulator"
    table[schema.BATCH_ID] = table[schema.BATCH_ID].astype(str)
    faulty = _faulty_ids(table, faults)
    ids = sorted(table[schema.BATCH_ID].unique())
    if len(ids) < 3:
        raise ConfigError(f"need at least 3 batches to split into train/val/test, got {len(ids)}")
    splits = split_batches(ids, faulty=faulty, fractions=tuple(cfg.data.split), seed=cfg.seed)
    summary = {"source": source, "n_batches": len(ids), "n_faulty_batches": len(faulty)}
    for k, v in splits.items():
        summary[f"n_{k}_batches"] = len(v)
        summary[f"n_{k}_faulty_batches"] = len([b for b in v if b in faulty])
    check_split_sizes(cfg, splits, faulty, source)
    atomic_write_text(run_dir / "process.json", json.dumps(process.to_dict(), indent=1))
    cadence = detect_cadence(table, assays=process.with_role("offline"))
    atomic_write_text(run_dir / "cadence.json", json.dumps(cadence.to_dict(), indent=1))
    cmap = cfg.data.column_map.to_dict()
    atomic_write_text(run_dir / "column_map.json", json.dumps(cmap, indent=1))
    n_test_normal = len([b for b in splits["test"] if b not in faulty])
    if n_test_normal < MIN_MEANINGFUL_TEST:
        summary["warning"] = (
            f"only {n_test_normal} fault-free test batch(es): the test metrics rest on too few "
            f"batches to mean much (at least {MIN_MEANINGFUL_TEST} are needed); use more batches"
        )
        warnings.warn(summary["warning"], stacklevel=2)
    return RunData(table, faults, splits, faulty, has_labels, batch_info, summary, sim_cfg, process)
