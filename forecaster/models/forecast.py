"""Thin LightningModule around :class:`ForecastNet`: losses, optimiser, logging."""

from __future__ import annotations

import math

import lightning as L
import torch

from forecaster.models.forecast_config import ForecastConfig
from forecaster.models.nets import ForecastNet

Tensor = torch.Tensor

__all__ = ["ForecastConfig", "ForecastModule", "forecast_losses", "masked_mean", "pinball"]


def pinball(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Quantile loss per element. pred: (..., Q); target: (...); quantiles: (Q,)."""
    err = target.unsqueeze(-1) - pred
    return torch.maximum(quantiles * err, (quantiles - 1) * err).mean(-1)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    mask = mask & torch.isfinite(values)
    n = mask.sum()
    return torch.where(mask, values, torch.zeros_like(values)).sum() / n.clamp(min=1)


def forecast_losses(
    net_out: dict[str, Tensor], batch: dict[str, Tensor], quantiles: Tensor
) -> dict[str, Tensor]:
    """Per-head losses over every valid step of a padded minibatch.

    ``batch``: ``mask (B, T)``, ``feed (B, T)``, ``harvest (B,)``, ``daily (B, D)``,
    ``time_h (B, T)`` as built by :func:`forecaster.data.datasets.collate`.
    """
    mask = batch["mask"]
    feed_t = torch.nan_to_num(batch["feed"])
    feed_ok = mask & torch.isfinite(batch["feed"])
    feed = masked_mean((net_out["feed"] - feed_t) ** 2, feed_ok)

    h_t = batch["harvest"][:, None].expand_as(mask)
    h_ok = mask & torch.isfinite(h_t)
    harvest = masked_mean(pinball(net_out["harvest"], torch.nan_to_num(h_t), quantiles), h_ok)

    daily = batch["daily"]  # (B, D)
    n_days = daily.shape[1]
    day_h = 24.0 * torch.arange(1, n_days + 1, device=daily.device)
    future = day_h[None, None, :] > batch["time_h"][:, :, None]  # (B, T, D)
    d_ok = mask[:, :, None] & future & torch.isfinite(daily)[:, None, :]
    d_t = torch.nan_to_num(daily)[:, None, :].expand(-1, mask.shape[1], -1)
    traj = masked_mean(pinball(net_out["trajectory"], d_t, quantiles), d_ok)
    return {"feed": feed, "harvest": harvest, "trajectory": traj}


class ForecastModule(L.LightningModule):
    """Trains a :class:`ForecastNet` (injected) on the three heads jointly.

    ``val_history`` holds the validation loss after each epoch (plain floats, sanity check
    excluded) for :func:`forecaster.models.training_length.undertrained`.
    """

    def __init__(
        self, net: ForecastNet, cfg: ForecastConfig, max_epochs: int, seed: int = 0
    ) -> None:
        super().__init__()
        self.net = net
        self.cfg = cfg
        self.max_epochs = max_epochs
        self.seed = seed
        self.val_history: list[float] = []
        self.register_buffer(
            "q", torch.tensor(list(cfg.quantiles), dtype=torch.float32), persistent=False
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.net(x)

    def _step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        losses = forecast_losses(self.net(batch["x"]), batch, self.q)
        c = self.cfg
        total = (
            c.loss_feed * losses["feed"]
            + c.loss_harvest * losses["harvest"]
            + c.loss_trajectory * losses["trajectory"]
        )
        bs = batch["x"].shape[0]
        for k, v in losses.items():
            self.log(
                f"{stage}/loss_{k}",
                v,
                batch_size=bs,
                on_epoch=True,
                on_step=False,
                sync_dist=stage != "train",
            )
        self.log(
            f"{stage}/loss",
            total,
            batch_size=bs,
            on_epoch=True,
            on_step=False,
            prog_bar=True,
            sync_dist=stage != "train",
        )
        return total

    def lr_factor(self, epoch: int) -> float:
        """Linear warm-up, then cosine decay to 5 % of ``cfg.lr`` at ``max_epochs``."""
        warm, total = max(self.cfg.warmup_epochs, 0), max(self.max_epochs, 1)
        if epoch < warm:
            return (epoch + 1) / (warm + 1)
        p = (epoch - warm) / max(total - warm, 1)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0)))

    def on_train_epoch_start(self) -> None:
        # The schedule is a pure function of the epoch, so a resumed run repeats it exactly.
        lr = self.cfg.lr * self.lr_factor(self.current_epoch)
        for group in self.trainer.optimizers[0].param_groups:
            group["lr"] = lr
        self.log("lr", lr, on_epoch=True, on_step=False)

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # Dropout draws depend on (seed, epoch, step) only, not on what else consumed the
        # global generator before (data-loader start-up differs between fresh and resumed runs).
        torch.manual_seed((self.seed * 1_000_003 + self.current_epoch) * 100_003 + batch_idx)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        value = self.trainer.callback_metrics.get("val/loss")
        if value is not None:
            self.val_history.append(float(value))

    def configure_optimizers(self):
        return torch.optim.AdamW(
            self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay
        )
