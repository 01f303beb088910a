"""One Lightning Trainer factory for every fit (a core module: libraries and the pipeline
both use it).

The run config's ``trainer`` section holds the device keys (``accelerator``, ``devices``,
``strategy``, ``num_nodes``, ``precision``), so the same YAML trains on a laptop CPU, a GPU
or several nodes. The pipeline turns that section into :func:`trainer_kwargs` once; every
fit (the forecaster stage, the anomaly autoencoder) asks :func:`make_trainer` for its
Trainer with those settings, adding only its own epochs, callbacks and TensorBoard folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightning as L

    from forecaster.pipeline.config import TrainerConfig


def trainer_kwargs(t: TrainerConfig, single_device: bool = False) -> dict[str, Any]:
    """``lightning.Trainer`` settings shared by every stage.

    Args:
        t: the run config's ``trainer`` section.
        single_device: one device, no distributed strategy (stages that run on rank 0 only
            after a DDP fit).
    """
    kw = {
        "accelerator": t.accelerator,
        "devices": t.devices,
        "strategy": t.strategy,
        "num_nodes": t.num_nodes,
        "precision": t.precision,
        "deterministic": t.deterministic,
        "enable_progress_bar": t.enable_progress_bar,
        "enable_model_summary": False,
    }
    if single_device:
        kw.update(devices=1, strategy="auto", num_nodes=1)
    return kw


def make_trainer(
    base: dict[str, Any],
    *,
    log_dir: str | Path | None,
    stage: str,
    max_epochs: int,
    callbacks: list | None = None,
    **extra: Any,
) -> L.Trainer:
    """A Trainer logging to ``<log_dir>/<stage>`` in TensorBoard.

    Args:
        base: :func:`trainer_kwargs` of the run.
        log_dir: the run's TensorBoard folder (``<run>/tb``); None = no logger.
        stage: the stage's name (``forecast``, ``autoencoder``): its TensorBoard subfolder.
        max_epochs: the stage's epoch limit.
        callbacks: the stage's callbacks.
        **extra: other ``lightning.Trainer`` arguments (gradient clipping, limits).
    """
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = (
        TensorBoardLogger(str(log_dir), name=stage, version="", default_hp_metric=False)
        if log_dir is not None
        else False
    )
    return L.Trainer(
        **{"logger": logger, **base},
        max_epochs=max_epochs,
        callbacks=callbacks or [],
        log_every_n_steps=1,
        **extra,
    )
