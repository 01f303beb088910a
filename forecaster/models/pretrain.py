"""Transfer from the simulator: pre-train the sequence model on simulated batches rendered
like the user's data, then fine-tune it on the user's batches.

A CHO fed-batch plant with 10-40 batches of its own is short of data for a recurrent net;
our simulator is not its process, but it knows what a fed-batch culture does. The steps:

1. :func:`user_shape` reads what the user's training table looks like: its variables (of
   the run's process, in canonical units), row spacing, each assay's spacing, the median
   batch length and the working volume;
2. :func:`render_sim` simulates fault-free batches on that grid (rows every ``row_h``,
   each assay at its own spacing, an assay the user takes only at harvest only at harvest,
   the run length the user's median), keeps the user's variables the simulator has (in the
   user's units, flows and volume scaled to the user's working volume) and leaves the
   others missing (all NaN: the :class:`~forecaster.data.features.Preprocessor` carries a
   dense variable at its training mean and marks an assay as never taken, exactly as for a
   user batch that lacks a reading);
3. :func:`pretrain` fits the network on them with the preprocessing and target scales
   fitted on the USER's training batches (``SequenceForecaster.build``), so fine-tuning
   sees the same scaling; :func:`fit_phase` then continues on the user's batches with a
   fresh optimiser (same network object), early stopping on the user's validation batches.

:func:`check_transferable` refuses a process that is not CHO-like (another product, or
fewer than half of the user's variables in the simulator) with one line naming
:data:`KEY`.

Example:
    >>> model = SequenceForecaster.build(cfg, train)
    >>> sim = render_sim(user_shape(train), SimConfig(), n_batches=200, seed=0)
    >>> pretrain(model, sim, cfg, epochs=20)          # {"batches": 200, "steps": ..., ...}
    >>> fit_phase(model, train, val, cfg, max_epochs=40, lr_scale=0.5)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch.utils.data import DataLoader

from forecaster import schema
from forecaster.data import targets
from forecaster.data.datasets import EpochShuffleSampler, PrefixDataset, batch_arrays, collate
from forecaster.data.errors import ConfigError
from forecaster.data.process import Process, default_process
from forecaster.data.time_grid import detect_cadence
from forecaster.data.units import convert
from forecaster.models.forecast import ForecastModule
from forecaster.models.training_length import resolve_epochs, steps_per_epoch
from forecaster.trainer import make_trainer

__all__ = [
    "EXTENSIVE",
    "KEY",
    "SIM_PREFIX",
    "UserShape",
    "check_transferable",
    "fit_phase",
    "pretrain",
    "render_sim",
    "sim_variables",
    "user_shape",
]

#: the run-config key that switches pre-training on (named in every refusal)
KEY = "model.pretrain_sim_batches"
#: batch ids of simulated batches start with this (never clash with the user's)
SIM_PREFIX = "sim-"
#: simulator columns that scale with the working volume (multiplied by the volume ratio)
EXTENSIVE = ("volume_L", "feed_rate_mL_h", "base_rate_mL_h", "airflow_L_min", "co2_flow_mL_min")
#: the simulator's integration step is at most this (h)
_MAX_DT_H = 0.1


@dataclass(frozen=True)
class UserShape:
    """What the user's training batches look like (all in the run's canonical units).

    Attributes:
        variables: variables of the process with a value in the table, process order.
        row_h: median row spacing [h].
        assay_h: offline variable -> median spacing of its values [h] (in-run assays).
        harvest_only: offline variables measured only on a batch's last row.
        run_end_h: median last ``time_h`` of the batches [h].
        volume_L: median first volume reading (None: no volume column).
    """

    variables: tuple[str, ...]
    row_h: float
    assay_h: Mapping[str, float]
    harvest_only: tuple[str, ...]
    run_end_h: float
    volume_L: float | None = None


def user_shape(table: pd.DataFrame, process: Process | None = None) -> UserShape:
    """Read the variables and cadence of the user's (training) batch table.

    Args:
        table: canonical batch table (``batch_id``, ``time_h``, the process's variables).
        process: the run's process (default: the CHO preset).
    """
    process = process or default_process()
    names = tuple(v for v in process.names if v in table and table[v].notna().any())
    offline = [v for v in names if process.variable(v).role == "offline"]
    in_run = [v for v in offline if targets.assayed_in_run(table, v)]
    cad = detect_cadence(table, assays=in_run)
    ends = table.groupby(schema.BATCH_ID)[schema.TIME].max()
    volume = None
    if "volume_L" in names:
        first = table.sort_values(schema.TIME).groupby(schema.BATCH_ID)["volume_L"].first()
        volume = float(first.median()) if first.notna().any() else None
    return UserShape(
        variables=names,
        row_h=float(cad.row_h),
        assay_h=dict(cad.assay_h),
        harvest_only=tuple(v for v in offline if v not in in_run),
        run_end_h=float(ends.median()),
        volume_L=volume,
    )


def sim_variables(variables: Sequence[str], process: Process | None = None) -> list[str]:
    """Those of ``variables`` that the simulator writes, in a unit it can be converted to."""
    process = process or default_process()
    out = []
    for v in variables:
        if v not in schema.BY_NAME:
            continue
        try:
            convert([1.0], v, schema.BY_NAME[v].unit, process)
        except Exception:  # noqa: BLE001 - a unit of another dimension: not the same variable
            continue
        out.append(v)
    return out


def check_transferable(variables: Sequence[str], process: Process | None = None) -> None:
    """Refuse a process the simulator cannot stand in for.

    Raises:
        ConfigError: the product is not the CHO titer, or fewer than half of ``variables``
            (the user's) exist in the simulator; one line naming :data:`KEY`.
    """
    process = process or default_process()
    if process.product != schema.TITER:
        raise ConfigError(
            f"{KEY}: pre-training on simulated batches needs a CHO-like process whose product "
            f"is {schema.TITER}; this process ({process.name}) forecasts {process.product}; "
            f"set {KEY} to 0"
        )
    shared = sim_variables(variables, process)
    if 2 * len(shared) < len(variables):
        lacking = [v for v in variables if v not in shared]
        raise ConfigError(
            f"{KEY}: only {len(shared)} of the {len(variables)} variables of your data exist "
            f"in the simulator (it lacks {', '.join(lacking[:6])}"
            f"{', ...' if len(lacking) > 6 else ''}); pre-training needs at least half; "
            f"set {KEY} to 0"
        )


def _grid(shape: UserShape) -> tuple[float, float, float, float]:
    """``(dt_h, sample_interval_h, assay_interval_h, run_length_days)`` for the simulator."""
    row = shape.row_h if math.isfinite(shape.row_h) and shape.row_h > 0 else 1.0
    dt = row / math.ceil(row / _MAX_DT_H - 1e-9)
    in_run = [h for h in shape.assay_h.values() if math.isfinite(h) and h > 0]
    assay = row * max(1, round((min(in_run) if in_run else 24.0) / row))
    end = shape.run_end_h if math.isfinite(shape.run_end_h) else 14 * 24.0
    n_rows = max(round(max(end, 24.0) / row), math.ceil(24.0 / row - 1e-9))
    return dt, row, assay, n_rows * row / 24.0


def _thin(table: pd.DataFrame, column: str, every: int, harvest_only: bool) -> None:
    """Keep every ``every``-th assay of ``column`` per batch (or the last row's only)."""
    by = table[schema.BATCH_ID]
    if harvest_only:
        last = table.groupby(by, sort=False)[schema.TIME].transform("max")
        table.loc[table[schema.TIME] < last, column] = np.nan
        return
    if every <= 1:
        return
    seen = table[column].notna()
    rank = seen.astype(int).groupby(by, sort=False).cumsum() - 1
    table.loc[seen & (rank % every != 0), column] = np.nan


def render_sim(
    shape: UserShape,
    sim_cfg: Any,
    n_batches: int,
    seed: int,
    process: Process | None = None,
) -> pd.DataFrame:
    """Simulate fault-free batches that look like the user's training table.

    Args:
        shape: :func:`user_shape` of the user's training batches.
        sim_cfg: the simulator settings (``SimConfig``; grid, length and faults are set here).
        n_batches: simulated batches (> 0).
        seed: simulator seed.
        process: the run's process (default: the CHO preset).

    Returns:
        Table with ``batch_id`` (prefixed :data:`SIM_PREFIX`), ``time_h`` and exactly
        ``shape.variables`` (those the simulator lacks all NaN), in the process's units.

    Raises:
        ConfigError: not CHO-like (:func:`check_transferable`) or ``n_batches`` < 1.
    """
    from forecaster.sim import simulate  # the simulator only when pre-training is asked for

    process = process or default_process()
    if int(n_batches) < 1:
        raise ConfigError(f"{KEY} must be a positive number of batches, got {n_batches}")
    check_transferable(shape.variables, process)
    dt, row, assay, days = _grid(shape)
    cfg = dataclasses.replace(
        sim_cfg, dt_h=dt, sample_interval_h=row, assay_interval_h=assay, run_length_days=days,
        run_length_spread_days=0, record_plan=any(v in shape.variables for v in schema.PLAN),
        faults=dataclasses.replace(sim_cfg.faults, rate=0.0),
    )  # fmt: skip
    sim = simulate(cfg, n_batches=int(n_batches), seed=int(seed)).table
    shared = sim_variables(shape.variables, process)
    out = pd.DataFrame(
        {
            schema.BATCH_ID: SIM_PREFIX + sim[schema.BATCH_ID].astype(str),
            schema.TIME: sim[schema.TIME].to_numpy(dtype=float),
        }
    )
    scale = 1.0
    if shape.volume_L and "volume_L" in sim:
        first = sim.groupby(schema.BATCH_ID, sort=False)["volume_L"].first().median()
        scale = float(shape.volume_L / first) if first > 0 else 1.0
    for v in shape.variables:
        if v not in shared or v not in sim:
            out[v] = np.nan  # the simulator lacks it: missing, as in a batch without it
            continue
        x = sim[v].to_numpy(dtype=float) * (scale if v in EXTENSIVE else 1.0)
        out[v] = convert(x, v, schema.BY_NAME[v].unit, process)
        if process.variable(v).role == "offline":
            every = round(shape.assay_h.get(v, assay) / assay)
            _thin(out, v, max(int(every), 1), v in shape.harvest_only)
    return out


# ------------------------------------------------------------------------------ fitting
def _loaders(model, table: pd.DataFrame, cfg, seed: int, shuffle: bool, workers: int = 0):
    arrays = batch_arrays(table, model.prep, model.scales, cfg.n_days)
    ds = PrefixDataset(arrays, max(int(cfg.min_prefix_h), 1), shuffle, seed)
    sampler = EpochShuffleSampler(ds, seed) if shuffle else None
    dl = DataLoader(
        ds, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate, num_workers=workers
    )
    return ds, dl


def fit_phase(
    model,
    train: pd.DataFrame,
    val: pd.DataFrame | None,
    cfg,
    *,
    max_epochs: int,
    min_steps: int = 0,
    patience: int = 8,
    lr_scale: float = 1.0,
    seed: int = 0,
    trainer_kwargs: Mapping[str, Any] | None = None,
    log_dir: str | Path | None = None,
    stage: str = "forecast",
    gradient_clip_val: float = 1.0,
) -> dict:
    """Train ``model.net`` in place on ``train``: a fresh optimiser and lr schedule.

    With ``val`` the epoch of lowest validation loss is kept (early stopping after
    ``patience`` epochs without improvement, never before ``min_steps``); without it the
    weights after ``max_epochs`` are kept.

    Args:
        model: a ``SequenceForecaster`` (its preprocessing and scales are used as they are).
        train, val: batch tables (canonical columns).
        cfg: the model config (``ForecastConfig``); its ``lr`` times ``lr_scale`` is used.
        max_epochs, min_steps, patience: training length (see ``training_length``).
        trainer_kwargs: ``lightning.Trainer`` settings (device, precision, progress bar).
        log_dir, stage: TensorBoard folder (None: no logger) and subfolder.

    Returns:
        ``{"epochs", "steps", "seconds", "best_val_loss"}`` (plain values).
    """
    ds, dl = _loaders(model, train, cfg, seed, True)
    epochs = resolve_epochs(
        max_epochs, min_steps, steps_per_epoch(len(ds), cfg.batch_size), patience
    )
    phase_cfg = dataclasses.replace(cfg, lr=float(cfg.lr) * float(lr_scale))
    module = ForecastModule(model.net.train(), phase_cfg, max_epochs=epochs, seed=seed)
    best = _KeepBest()
    callbacks: list = [best]
    dl_val = None
    if val is not None and len(val):
        dl_val = _loaders(model, val, cfg, seed, False)[1]
        callbacks.append(EarlyStopping(monitor="val/loss", mode="min", patience=patience))
    kw = {"enable_checkpointing": False, **(trainer_kwargs or {})}
    trainer = make_trainer(
        kw, log_dir=log_dir, stage=stage, max_epochs=epochs, callbacks=callbacks,
        gradient_clip_val=gradient_clip_val,
        **({"min_steps": min_steps} if min_steps > 0 and dl_val is not None else {}),
        **({} if dl_val is not None else {"limit_val_batches": 0}),
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(module, dl, dl_val)
    seconds = time.perf_counter() - start
    if best.state is not None:
        model.net.load_state_dict(best.state)
    model.net.cpu().eval()
    return {
        "epochs": int(trainer.current_epoch),
        "steps": int(trainer.global_step),
        "seconds": round(seconds, 2),
        "best_val_loss": best.loss if best.state is not None else None,
    }


class _KeepBest(Callback):
    """Holds a copy of the network weights of the lowest ``val/loss`` so far."""

    def __init__(self) -> None:
        self.state: dict | None = None
        self.loss = math.inf

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        v = trainer.callback_metrics.get("val/loss")
        if trainer.sanity_checking or v is None or not float(v) < self.loss:
            return
        self.loss = float(v)
        self.state = copy.deepcopy(pl_module.net.state_dict())


def pretrain(
    model,
    sim: pd.DataFrame,
    cfg,
    *,
    epochs: int,
    seed: int = 0,
    trainer_kwargs: Mapping[str, Any] | None = None,
    log_dir: str | Path | None = None,
) -> dict:
    """Fit ``model.net`` on simulated batches (:func:`render_sim`), in place.

    The preprocessing and target scales stay those fitted on the user's batches. No
    validation: the user's validation batches judge the fine-tuning that follows.

    Returns:
        ``{"batches", "epochs", "steps", "seconds"}`` (plain values) for the run's metrics.
    """
    if epochs < 1:
        raise ConfigError(f"model.pretrain_epochs must be at least 1, got {epochs}")
    info = fit_phase(
        model, sim, None, cfg, max_epochs=int(epochs), seed=seed,
        trainer_kwargs=trainer_kwargs, log_dir=log_dir, stage="pretrain",
    )  # fmt: skip
    return {
        "batches": int(sim[schema.BATCH_ID].nunique()),
        "epochs": int(epochs),
        "steps": info["steps"],
        "seconds": info["seconds"],
    }
