"""Stage 1: train the sequence forecaster with Lightning (checkpoints, TensorBoard, resume)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
)
from torch.utils.data import DataLoader

from forecaster.data.datasets import EpochShuffleSampler, PrefixDataset, batch_arrays, collate
from forecaster.models.forecast import ForecastModule
from forecaster.models.pretrain import pretrain, render_sim, user_shape
from forecaster.models.sequence import SequenceForecaster
from forecaster.models.training_length import (
    epoch_repeats,
    resolve_epochs,
    steps_per_epoch,
    undertrained,
)
from forecaster.pipeline.context import RunContext
from forecaster.trainer import make_trainer

#: added to the run's seed for the simulated pre-training batches
SIM_SEED_OFFSET = 7919

#: at most about this many forecast figures go to TensorBoard in one training (each costs
#: about 1 s of matplotlib on a 2-core CPU; 250 one-step epochs on 8 batches drew 250)
MAX_FIGURES = 10


class ValLossHistory(Callback):
    """Validation loss after every epoch, as plain floats (for the undertrained check)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        v = trainer.callback_metrics.get("val/loss")
        self.losses.append(float(v) if v is not None else float("nan"))
        if trainer.progress_bar_callback is None and trainer.is_global_zero:
            # one line per epoch when no progress bar draws it (the app's Train page reads it)
            t = trainer.callback_metrics.get("train/loss")
            parts = [f"{k}={float(x):.4g}" for k, x in (("train_loss", t), ("val_loss", v))
                     if x is not None]  # fmt: skip
            print(f"Epoch {trainer.current_epoch}/{trainer.max_epochs - 1} " + " ".join(parts),
                  flush=True)  # fmt: skip


class FigureCallback(Callback):
    """Every ``every_n_epochs`` validation epochs: titer trajectories with intervals and feed,
    for a few validation batches (the first epoch always draws)."""

    def __init__(
        self,
        model: SequenceForecaster,
        val: pd.DataFrame,
        n_batches: int = 3,
        every_n_epochs: int = 1,
    ) -> None:
        ids = sorted(val["batch_id"].astype(str).unique())[:n_batches]
        self.model = model
        self.every_n_epochs = max(1, int(every_n_epochs))
        self.batches = [g for _, g in val[val["batch_id"].isin(ids)].groupby("batch_id")]

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        exp = getattr(trainer.logger, "experiment", None)
        if trainer.sanity_checking or not trainer.is_global_zero or not hasattr(exp, "add_figure"):
            return
        if trainer.current_epoch % self.every_n_epochs:
            return
        from forecaster.pipeline.figures import forecast_figure

        was_training = pl_module.training
        pl_module.eval()
        try:
            fig = forecast_figure(self.model, self.batches, origin_days=(3, 7))
            exp.add_figure("val/forecasts", fig, global_step=trainer.current_epoch)
        finally:
            pl_module.train(was_training)


def train_forecaster(ctx: RunContext) -> tuple[SequenceForecaster, dict]:
    """Fit the forecaster on the training batches; early stopping on the validation loss.

    Returns the best model (eval mode, CPU) and info for metrics (epochs, seconds).
    """
    cfg, tcfg = ctx.cfg.model, ctx.cfg.trainer
    fault_filter = None if ctx.cfg.data.train_on_faulty else False
    train = ctx.batches("train", faulty=fault_filter)
    val = ctx.batches("val", faulty=fault_filter)
    model = SequenceForecaster.build(cfg, train, ctx.process)
    pretrained = pretrain_on_sim(ctx, model, train)
    if pretrained is not None:  # fine-tuning: a fresh optimiser, at a lower learning rate
        cfg = replace(cfg, lr=cfg.lr * cfg.pretrain_finetune_lr_scale)
    min_len = max(int(cfg.min_prefix_h), 1)
    # with a step budget, an epoch of a few runs repeats them (new cuts) to a few steps
    repeats = (
        epoch_repeats(train["batch_id"].nunique(), cfg.batch_size) if tcfg.min_steps > 0 else 1
    )
    ds_train = PrefixDataset(
        batch_arrays(train, model.prep, model.scales, cfg.n_days), min_len, True, ctx.seed, repeats
    )
    ds_val = PrefixDataset(
        batch_arrays(val, model.prep, model.scales, cfg.n_days), min_len, False, ctx.seed
    )
    dl_train = DataLoader(
        ds_train,
        batch_size=cfg.batch_size,
        sampler=EpochShuffleSampler(ds_train, ctx.seed),
        collate_fn=collate,
        num_workers=tcfg.num_workers,
    )
    dl_val = DataLoader(
        ds_val, batch_size=cfg.batch_size, collate_fn=collate, num_workers=tcfg.num_workers
    )

    out_dir = ctx.run_dir / "forecast"
    ckpt = ModelCheckpoint(
        dirpath=out_dir, filename="best", monitor="val/loss", mode="min", save_last=True
    )
    per_epoch = steps_per_epoch(len(ds_train), cfg.batch_size, tcfg.limit_train_batches)
    max_epochs = resolve_epochs(tcfg.max_epochs, tcfg.min_steps, per_epoch, tcfg.patience)
    stopper = EarlyStopping(monitor="val/loss", mode="min", patience=tcfg.patience)
    history = ValLossHistory()
    figures = FigureCallback(model, val, every_n_epochs=math.ceil(max_epochs / MAX_FIGURES))
    callbacks = [ckpt, stopper, history, figures]
    module = ForecastModule(model.net.train(), cfg, max_epochs=max_epochs, seed=ctx.seed)
    limits = {
        k: v
        for k, v in (
            ("limit_train_batches", tcfg.limit_train_batches),
            ("limit_val_batches", tcfg.limit_val_batches),
        )
        if v != 1.0
    }
    trainer = make_trainer(
        ctx.trainer_kwargs,
        log_dir=ctx.run_dir / "tb",
        stage="forecast",
        max_epochs=max_epochs,
        callbacks=callbacks,
        **({"min_steps": tcfg.min_steps} if tcfg.min_steps > 0 else {}),
        gradient_clip_val=tcfg.gradient_clip_val,
        **limits,
    )
    last = out_dir / "last.ckpt"
    resume = last if ctx.cfg.resume and last.exists() else None
    start = time.perf_counter()
    trainer.fit(module, dl_train, dl_val, ckpt_path=str(resume) if resume else None)
    seconds = time.perf_counter() - start
    if not trainer.is_global_zero:  # DDP: only rank 0 goes on to evaluation and the other stages
        raise SystemExit(0)
    best = Path(ckpt.best_model_path) if ckpt.best_model_path else last
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    model.net.load_state_dict(
        {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    )
    model.net.cpu().eval()
    warning = undertrained(history.losses, max_epochs, stopped_early=stopper.stopped_epoch > 0)
    info = {
        "epochs": int(trainer.current_epoch),
        "epoch_limit": int(max_epochs),
        "steps": int(trainer.global_step),
        "steps_per_epoch": int(per_epoch),
        "epoch_repeats": int(repeats),
        "stopped_early": bool(stopper.stopped_epoch > 0),
        "val_loss_by_epoch": [round(v, 6) for v in history.losses],
        "warning": warning,
        "best_val_loss": float(ckpt.best_model_score)
        if ckpt.best_model_score is not None
        else None,
        "resumed_from": str(resume) if resume else None,
        "seconds": seconds,
        "n_parameters": int(sum(p.numel() for p in model.net.parameters())),
        "fit_batches": {
            k: sorted(map(str, d["batch_id"].unique())) for k, d in (("train", train), ("val", val))
        },
    }
    if pretrained is not None:
        info["pretrain"] = pretrained
    return model, info


def pretrain_on_sim(ctx: RunContext, model: SequenceForecaster, train: pd.DataFrame) -> dict | None:
    """Fit ``model.net`` on simulated batches rendered like ``train`` (``model.pretrain_*``).

    None when ``model.pretrain_sim_batches`` is 0 or a resumed run continues from its
    checkpoint (which holds the fine-tuned weights already). The simulator's seed is the
    run's plus :data:`SIM_SEED_OFFSET`, so a simulated run never pre-trains on its own batches.

    Returns:
        ``{"batches", "epochs", "steps", "seconds"}`` (seconds: simulation + fitting).

    Raises:
        ConfigError: the process is not CHO-like (one line naming the key).
    """
    cfg = ctx.cfg.model
    n = int(getattr(cfg, "pretrain_sim_batches", 0) or 0)
    if n <= 0 or (ctx.cfg.resume and (ctx.run_dir / "forecast" / "last.ckpt").exists()):
        return None
    start = time.perf_counter()
    sim = render_sim(user_shape(train, ctx.process), ctx.cfg.sim, n,
                     ctx.seed + SIM_SEED_OFFSET, ctx.process)  # fmt: skip
    info = pretrain(model, sim, cfg, epochs=cfg.pretrain_epochs, seed=ctx.seed,
                    trainer_kwargs=ctx.trainer_kwargs, log_dir=ctx.run_dir / "tb")  # fmt: skip
    info["seconds"] = round(time.perf_counter() - start, 2)
    return info
