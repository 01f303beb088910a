"""Training the autoencoder on windows of fault-free batches (Lightning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from forecaster.anomaly.config import AutoencoderConfig
from forecaster.anomaly.features import FeatureSpec, windows
from forecaster.models.autoencoder import AutoencoderModule
from forecaster.models.autoencoder_net import AutoencoderNet
from forecaster.trainer import make_trainer


def make_windows(
    feats: list[np.ndarray], spec: FeatureSpec, window: int, stride: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training windows ending every ``stride`` rows of each batch.

    Args:
        feats: one ``(T, F_all)`` preprocessed feature array per batch.

    Returns:
        ``x: (N, W, F)``, ``y: (N, W, V)``, ``mask: (N, W, V)`` float32 tensors.
    """
    xs, ys, ms = [], [], []
    for f in feats:
        if len(f) == 0:
            continue
        y, m = spec.targets(f)
        ends = np.arange(len(f) - 1, -1, -stride)[::-1]
        xs.append(windows(f[:, spec.input_idx], window)[ends])
        ys.append(windows(y.astype(np.float32), window)[ends])
        ms.append(windows(m.astype(np.float32), window)[ends])
    if not xs:
        raise ValueError("no fault-free batch with rows to train the autoencoder on")
    return tuple(torch.from_numpy(np.concatenate(a)).float() for a in (xs, ys, ms))  # type: ignore[return-value]


def train_autoencoder(
    train_feats: list[np.ndarray],
    val_feats: list[np.ndarray],
    spec: FeatureSpec,
    cfg: AutoencoderConfig,
    seed: int,
    trainer_kwargs: dict[str, Any] | None = None,
    log_dir: Path | None = None,
) -> tuple[AutoencoderNet, dict]:
    """Fit an :class:`AutoencoderNet` on fault-free training windows.

    Args:
        train_feats, val_feats: per-batch ``(T, F_all)`` features (fault-free batches).
        spec: which features go in and are rebuilt.
        cfg: network and optimisation settings.
        seed: seeds torch, the network initialisation and the shuffling.
        trainer_kwargs: shared ``lightning.Trainer`` arguments (they override ours).
        log_dir: TensorBoard folder (``run_dir/tb``); None = no logger.

    Returns:
        The trained network (eval mode) and its constructor arguments (plain values).
    """
    L.seed_everything(seed, workers=True, verbose=False)
    hparams = {
        "n_features": len(spec.input_idx),
        "n_outputs": len(spec.variables),
        "cell": cfg.cell,
        "hidden_size": cfg.hidden_size,
        "latent_size": cfg.latent_size,
        "num_layers": cfg.num_layers,
        "dropout": cfg.dropout,
    }
    net = AutoencoderNet(**hparams)
    module = AutoencoderModule(
        net, lr=cfg.lr, weight_decay=cfg.weight_decay, input_noise=cfg.input_noise
    )
    x, y, m = make_windows(train_feats, spec, cfg.window_h, cfg.train_stride)
    gen = torch.Generator().manual_seed(seed)
    train_dl = DataLoader(
        TensorDataset(x, y, m), batch_size=cfg.batch_size, shuffle=True, generator=gen
    )
    val_dl = None
    if val_feats:
        vx, vy, vm = make_windows(val_feats, spec, cfg.window_h, max(cfg.train_stride, 4))
        val_dl = DataLoader(TensorDataset(vx, vy, vm), batch_size=1024)
    base: dict[str, Any] = {
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "accelerator": "cpu",
        "deterministic": True,
        **(trainer_kwargs or {}),
    }
    epochs = base.pop("max_epochs", cfg.max_epochs)  # shared settings win, as before
    trainer = make_trainer(base, log_dir=log_dir, stage="anomaly", max_epochs=epochs)
    trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl)
    return net.eval(), hparams
