"""Thin LightningModule around :class:`AutoencoderNet`: masked reconstruction loss, optimiser."""

from __future__ import annotations

import lightning as L
import torch

from forecaster.models.autoencoder_net import AutoencoderNet

Tensor = torch.Tensor


def masked_mse(recon: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the entries where ``mask`` is 1. All (B, W, V)."""
    se = (recon - target).pow(2) * mask
    return se.sum() / mask.sum().clamp(min=1.0)


class AutoencoderModule(L.LightningModule):
    """Trains an injected :class:`AutoencoderNet` on fault-free windows.

    Minibatches are ``(x: (B, W, F), y: (B, W, V), mask: (B, W, V))``: inputs, the scaled
    signals to reconstruct and 1 where a signal is known (an assay not yet taken is 0).
    """

    def __init__(
        self,
        net: AutoencoderNet,
        lr: float = 3e-3,
        weight_decay: float = 1e-5,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        self.net = net
        self.lr, self.weight_decay, self.input_noise = lr, weight_decay, float(input_noise)
        self.save_hyperparameters(ignore=["net"])

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _loss(self, batch: tuple[Tensor, Tensor, Tensor], noise: float = 0.0) -> Tensor:
        x, y, m = batch
        if noise > 0:  # denoising: noisy inputs, clean targets
            x = x + noise * torch.randn_like(x)
        return masked_mse(self.net(x), y, m)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch, self.input_noise)
        self.log("train/loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("val/loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=max(1, self.trainer.max_epochs or 1)
        )
        return {"optimizer": opt, "lr_scheduler": sched}
