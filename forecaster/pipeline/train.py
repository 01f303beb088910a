"""One training run: data -> splits -> preprocessing -> stages -> run folder.

Stages, in order: the sequence forecaster (Lightning), the RandomForest baseline, their
evaluation on held-out test batches, anomaly detection, attributions. Each writes its files
under the run folder and returns its part of ``metrics.json``; the manifest with file
hashes is written last, so a folder without one is an unfinished run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd

from forecaster import __version__, schema
from forecaster.bundle import write_manifest
from forecaster.data.errors import ConfigError, DataError
from forecaster.data.features import Preprocessor
from forecaster.data.io import atomic_write_text
from forecaster.data.process import default_process
from forecaster.models.sequence import readable_copy
from forecaster.pipeline import report as report_mod
from forecaster.pipeline.anomaly_stage import run_anomaly_stage
from forecaster.pipeline.config import RunConfig
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.data_stage import load_data
from forecaster.pipeline.explain_stage import run_explain_stage
from forecaster.pipeline.forecast_stage import train_forecaster
from forecaster.pipeline.model_eval import run_forecast_evaluation
from forecaster.pipeline.side_stage import SideStage, runs_beside
from forecaster.threads import set_threads
from forecaster.trainer import trainer_kwargs


def train(
    config: str | os.PathLike | None = None,
    overrides: Mapping[str, object] | None = None,
    log=print,
) -> tuple[Path, dict]:
    """Train a run from a YAML config, the way ``train.py`` does.

    Args:
        config: a run config YAML (``configs/quickstart.yaml``); None = the defaults.
        overrides: dotted keys and values, as on the command line
            (``{"seed": 3, "model.cell": "lstm"}``).
        log: where progress lines go.

    Returns:
        The run folder and its metrics.
    """
    from forecaster.pipeline.config import parse_config

    argv = ["--config", str(config)] if config else []
    for key, value in (overrides or {}).items():
        argv += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    cfg, text = parse_config(argv)
    return run(cfg, text, log=log)


def run(cfg: RunConfig, config_yaml: str = "", log=print) -> tuple[Path, dict]:
    """Train and evaluate everything; returns the run folder and the metrics.

    The run is written into a hidden sibling (``.<run_name>.partial``) and swapped into
    place only once complete, so an interrupted run never destroys a finished one; an
    existing run folder is replaced only with ``overwrite``.
    """
    t0 = time.perf_counter()
    set_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = prepare_work_dir(cfg)
    try:
        return _run_stages(cfg, run_dir, config_yaml, log, t0)
    except DataError:  # a user error is deterministic: resuming would not help
        shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _run_stages(cfg: RunConfig, run_dir: Path, config_yaml: str, log, t0: float):
    atomic_write_text(run_dir / "config.yaml", config_yaml)

    log(f"[1/6] data: {'simulating' if not cfg.data.path else 'reading ' + str(cfg.data.path)}")
    data = load_data(cfg, run_dir)
    fault_free_train = data.table[
        data.table[schema.BATCH_ID].isin(data.splits["train"])
        & ~data.table[schema.BATCH_ID].isin(data.faulty)
    ]
    process = data.process or default_process()
    prep = Preprocessor.fit(
        fault_free_train,
        [v for v in process.names if v in data.table and data.table[v].notna().any()],
        process=process,
    )

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(run_dir / "tb" / "summary"))
    ctx = RunContext(
        cfg=cfg,
        run_dir=run_dir,
        table=data.table,
        faults=data.faults,
        splits=data.splits,
        prep=prep,
        seed=cfg.seed,
        writer=writer,
        trainer_kwargs=trainer_kwargs(cfg.trainer),
        has_labels=data.has_labels,
        sim=data.sim,
        process=process,
    )
    metrics: dict = {"data": data.summary, "timing": {}}
    metrics["process"] = report_mod.target_names(process, cfg.data.column_map)
    sides: dict[str, SideStage] = {}  # stages running in second processes, by name
    if runs_beside(ctx):  # the anomaly detector trains in a second process meanwhile
        log("      anomaly detection starts in a second process, beside the forecaster")
        _start_beside(sides, "anomaly", ctx, trainer_kwargs(cfg.trainer, single_device=True), log)
    try:
        return _main_stages(ctx, data, metrics, sides, log, t0)
    finally:
        for side in sides.values():
            side.stop()


def _start_beside(sides: dict[str, SideStage], stage: str, ctx: RunContext, kwargs: dict,
                  log) -> None:  # fmt: skip
    """Start ``stage`` in a second process; if that process cannot start, the stage runs
    in this one later (``stage`` stays out of ``sides``)."""
    try:
        sides[stage] = SideStage(ctx, kwargs, stage=stage)
    except RuntimeError as exc:
        log(f"warning: {exc}; the {stage} stage runs in this process instead")


#: the stages that may run beside the others: (name, metrics key, timing key, log line, run)
_SIDE_STAGES = (
    ("anomaly", "anomaly", "anomaly_s", "[4/6] anomaly detection (autoencoder, rules, PCA)",
     run_anomaly_stage),
    ("explain", "attribution", "explain_s", "[5/6] attributions (Captum) and RF importances",
     run_explain_stage),
)  # fmt: skip


def _main_stages(ctx: RunContext, data, metrics: dict, sides: dict[str, SideStage], log,
                 t0: float):  # fmt: skip
    """Stages 2-6; ``sides`` holds the stages already running in second processes (the
    explain stage joins them once the RandomForest is saved)."""
    cfg, run_dir, writer = ctx.cfg, ctx.run_dir, ctx.writer
    log(
        f"[2/6] sequence forecaster ({cfg.model.cell.upper()}) on {len(ctx.splits['train'])} training batches"
    )
    model, info = train_forecaster(ctx)
    model.save(run_dir / "forecast" / "model.pt")
    readable_copy(model, run_dir / "forecast" / "preprocessing.json")  # for people only
    ctx.forecaster = model
    # later stages train on one device (rank 0 only after DDP)
    ctx.trainer_kwargs = trainer_kwargs(cfg.trainer, single_device=True)
    metrics["timing"]["forecast_train_s"] = info["seconds"]
    fit_batches = {"sequence": info.pop("fit_batches")}
    metrics["forecast_training"] = info
    if info.get("warning"):
        log(f"warning: {info['warning']}")

    def start_explain() -> None:  # beside the ladder, once the RF is in the run folder
        if sides and cfg.explain.enabled:
            log("      attributions start in a second process, beside the evaluation")
            _start_beside(sides, "explain", ctx, ctx.trainer_kwargs, log)

    log("[3/6] RandomForest baseline and evaluation on test batches")
    t_rf = time.perf_counter()
    metrics.update(run_forecast_evaluation(ctx, data.batch_info, start_explain))
    metrics["timing"]["rf_and_eval_s"] = time.perf_counter() - t_rf
    if ctx.rf_fit_batches is not None:
        fit_batches["rf"] = ctx.rf_fit_batches
    splits = {**ctx.splits, "faulty": sorted(data.faulty), "fit": fit_batches}
    atomic_write_text(run_dir / "splits.json", json.dumps(splits, indent=1))

    for name, key, timing, line, run_here in _SIDE_STAGES:
        if not getattr(cfg, name).enabled:
            continue
        t_s = time.perf_counter()
        if name in sides:
            log(f"{line}: results of the second process")
            metrics[key], sections, metrics["timing"][timing] = sides[name].join()
            ctx.report.extend(sections)
            metrics["timing"][f"{name}_wait_s"] = time.perf_counter() - t_s
        else:
            log(line)
            metrics[key] = run_here(ctx)
            metrics["timing"][timing] = time.perf_counter() - t_s

    metrics["timing"]["train_s"] = time.perf_counter() - t0
    log("[6/6] writing report and manifest")
    metrics = _plain(metrics)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    report_mod.write_report(ctx, metrics)
    _log_hparams(ctx, metrics)
    writer.close()
    write_manifest(run_dir, __version__, {"seed": cfg.seed, "config": asdict(cfg.model)})
    return publish(run_dir, cfg.run_dir), metrics


def work_dir_of(final: Path) -> Path:
    """The hidden sibling a run is written into before it replaces ``final``."""
    return final.with_name(f".{final.name}.partial")


def prepare_work_dir(cfg: RunConfig) -> Path:
    """Check that the run may be written and return the folder to write it into.

    Raises:
        ConfigError: the run folder exists and neither ``overwrite`` nor ``resume`` is set.
    """
    final, work = cfg.run_dir, work_dir_of(cfg.run_dir)
    if cfg.resume:
        if not work.exists() and final.exists():  # continue a finished run's training
            shutil.copytree(final, work, ignore=shutil.ignore_patterns("manifest.json"))
    else:
        if final.exists() and not cfg.overwrite:
            raise ConfigError(
                f"run folder {final} exists and is kept; choose another --run_name, "
                "or pass --overwrite true to replace it"
            )
        if work.exists():  # an earlier interrupted attempt of ours
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "manifest.json").unlink(missing_ok=True)  # unfinished until the end
    return work


def publish(work: Path, final: Path) -> Path:
    """Swap the finished run ``work`` into ``final``; the previous run is removed last."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(work, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def hparams_entry(cfg: RunConfig, metrics: dict) -> tuple[dict, dict]:
    """One TensorBoard HParams entry per run: the settings that distinguish runs and the
    headline results, so several runs under one ``--logdir`` compare side by side.

    Returns:
        ``(hparams, results)``: scalars/strings keyed by config path, and finite floats
        keyed ``hparam/<metric>``.
    """

    def flat(prefix: str, obj) -> dict:
        out = {}
        for k, v in asdict(obj).items():
            if isinstance(v, (bool, int, float, str)):
                out[f"{prefix}.{k}"] = v
            elif isinstance(v, (list, tuple)) and len(v) <= 8:
                out[f"{prefix}.{k}"] = str(list(v))
        return out

    hp = {"seed": cfg.seed, "data": cfg.data.path or "simulator"}
    hp["sim.n_batches"] = cfg.sim.n_batches if not cfg.data.path else None
    hp.update(flat("model", cfg.model))
    hp.update({f"trainer.{k}": getattr(cfg.trainer, k) for k in ("max_epochs", "patience")})
    hp.update(flat("anomaly.autoencoder", cfg.anomaly.autoencoder))
    hp = {k: v for k, v in hp.items() if v is not None}
    seq = metrics.get("titer", {}).get("sequence", {})
    combined = metrics.get("anomaly", {}).get("combined", {})
    found = {
        "feed_r2": metrics.get("feed", {}).get("sequence", {}).get("r2"),
        "pi80_coverage": seq.get("pi80_coverage"),
        **{
            f"titer_mape_day{d}": v
            for d, v in seq.get("harvest_mape_by_day", {}).items()
            if v is not None
        },
        "anomaly_f1": combined.get("f1") if isinstance(combined, dict) else None,
        "false_alarms_per_100_batch_days": combined.get("false_alarms_per_100_batch_days")
        if isinstance(combined, dict)
        else None,
    }
    results = {
        f"hparam/{k}": float(v)
        for k, v in found.items()
        if isinstance(v, (int, float)) and np.isfinite(v)
    }
    return hp, results


def _log_hparams(ctx: RunContext, metrics: dict) -> None:
    hp, results = hparams_entry(ctx.cfg, metrics)
    if results and ctx.writer is not None:
        ctx.writer.add_hparams(hp, results, run_name="hparams")


def _plain(obj):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, Path)):
        return str(obj)
    return obj
