"""Re-run only the forecaster ladder of a finished run, into a copy of its folder.

Training runs every stage (data, sequence model, RF, ladder, anomaly, explanations); a change
to the ladder's choice or to its interval calibration should not need the sequence model
retrained. :func:`rebuild_ladder` copies a run folder (never writing into it), rebuilds the
run's batches and splits from its ``config.yaml`` (the simulator with the run's seed, or the
user's file), checks that the splits are the ones of its ``splits.json``, loads the trained
sequence model and RandomForest, and re-runs the ladder stage
(:func:`forecaster.pipeline.model_eval.ladder_metrics`) in the copy: a new
``forecast/chosen.json``, the ladder's ``titer`` entries of ``metrics.json`` replaced, and
the manifest re-hashed so the copy loads like any run folder.

Example:
    >>> info = rebuild_ladder(Path("checkpoints/default"), Path("/tmp/default_ladder"))
    >>> load_run("/tmp/default_ladder").choice  # serves the rebuilt choice
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from forecaster import schema
from forecaster.bundle import verify, write_manifest
from forecaster.data.errors import RunFolderError
from forecaster.data.io import atomic_write_text

__all__ = ["rebuild_ladder"]

#: manifest keys written by the bundle itself (the rest are the run's extras, kept)
_BUNDLE_KEYS = ("format", "format_version", "package_version", "files")


def rebuild_ladder(run_dir: Path, dest: Path) -> dict:
    """Copy ``run_dir`` to ``dest`` and re-run the ladder stage there.

    Args:
        run_dir: a finished run folder (verified first; only read).
        dest: a new or empty folder outside ``run_dir``.

    Returns:
        ``{"dest", "rung_by_day", "calibration_n", "notes"}`` of the rebuilt choice.

    Raises:
        RunFolderError: ``dest`` is the run folder, inside it or not empty; the rebuilt
            splits differ from ``splits.json`` (the data cannot be reproduced); the ladder
            was skipped (too few batches).
    """
    from forecaster.models.baseline import RFBaseline
    from forecaster.models.sequence import SequenceForecaster
    from forecaster.pipeline.config import load_config_file
    from forecaster.pipeline.context import RunContext
    from forecaster.pipeline.data_stage import load_data
    from forecaster.pipeline.evaluate import ORIGIN_DAYS, origin_days_within
    from forecaster.pipeline.model_eval import ladder_metrics

    run_dir, dest = Path(run_dir).resolve(), Path(dest).resolve()
    if dest == run_dir or run_dir in dest.parents:
        raise RunFolderError("the rebuilt ladder must go outside the run folder", file=str(dest))
    if dest.exists() and any(dest.iterdir()):
        raise RunFolderError(f"{dest} is not empty; give a new folder", file=str(dest))
    manifest = verify(run_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.rmdir()
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("tb", "*.ckpt"))

    cfg, _ = load_config_file(dest / "config.yaml")
    data = load_data(cfg, dest)
    saved = json.loads((dest / "splits.json").read_text())
    for part in ("train", "val", "test"):
        if sorted(map(str, saved[part])) != sorted(map(str, data.splits[part])):
            raise RunFolderError(
                f"the {part} batches rebuilt from config.yaml differ from splits.json: "
                "the run's data cannot be reproduced",
                file=str(run_dir / "splits.json"),
            )
    seq = SequenceForecaster.load(dest / "forecast" / "model.pt")
    rf = RFBaseline.load(dest / "rf") if (dest / "rf").is_dir() else None
    ctx = RunContext(cfg=cfg, run_dir=dest, table=data.table, faults=data.faults,
                     splits=data.splits, prep=seq.prep, seed=cfg.seed, sim=data.sim,
                     process=data.process)  # fmt: skip
    groups = [g for _, g in data.table.groupby(schema.BATCH_ID, sort=True)]
    days, _ = origin_days_within(groups, ORIGIN_DAYS)
    fault_filter = None if cfg.data.train_on_faulty else False
    entries = ladder_metrics(ctx, seq, rf, fault_filter, days)
    if "chosen" not in entries:
        raise RunFolderError(
            f"the ladder was not rebuilt: {entries.get('ladder', {}).get('note', 'no choice')}",
            file=str(dest),
        )
    _merge_metrics(dest / "metrics.json", entries)
    extra = {k: v for k, v in manifest.items() if k not in _BUNDLE_KEYS}
    write_manifest(dest, str(manifest.get("package_version", "")), extra)
    chosen = json.loads((dest / "forecast" / "chosen.json").read_text())
    return {
        "dest": str(dest),
        "rung_by_day": entries["chosen"]["rung_by_day"],
        "calibration_n": chosen["calibration"]["n"],
        "notes": entries["chosen"]["notes"],
    }


def _merge_metrics(path: Path, entries: dict) -> None:
    """Replace the ladder's ``titer`` entries of ``metrics.json`` (as training merges them:
    RF and sequence keep their own test MAPE)."""
    metrics = json.loads(path.read_text()) if path.exists() else {}
    titer = metrics.setdefault("titer", {})
    for name, entry in entries.items():
        if name in ("rf", "sequence") and isinstance(titer.get(name), dict):
            titer[name].update({k: v for k, v in entry.items() if k != "harvest_mape_by_day"})
        else:
            titer[name] = entry
    atomic_write_text(path, json.dumps(metrics, indent=2, sort_keys=True, default=_plain))


def _plain(obj):
    """JSON fallback for NumPy scalars."""
    return obj.item() if hasattr(obj, "item") else str(obj)
