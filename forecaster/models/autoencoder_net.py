"""Pure torch recurrent encoder-decoder that reconstructs windows of a batch's signals.

Follows the LSTM encoder-decoder anomaly detector of Malhotra et al. (2016), "LSTM-based
Encoder-Decoder for Multi-sensor Anomaly Detection" (arXiv:1607.00148): the encoder
compresses a window into a small latent vector, the decoder rebuilds the window from the
latent alone (no teacher forcing, so it cannot copy its input) in reverse order, which makes
the newest row the first one reconstructed and the best one to score a running batch on.
"""

from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


class AutoencoderNet(nn.Module):
    """GRU/LSTM encoder-decoder.

    Args:
        n_features: F, input features per row (signals, masks, ages, clock, set points).
        n_outputs: V, reconstructed signals per row (a subset of the inputs, scaled units).
        cell: ``"gru"`` or ``"lstm"``.
        hidden_size: H, recurrent width of encoder and decoder.
        latent_size: Z, bottleneck width.
        num_layers: stacked recurrent layers.
        dropout: dropout between stacked layers.

    ``forward(x)`` maps ``x: (B, W, F)`` to the reconstruction ``(B, W, V)`` in time order.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        cell: str = "gru",
        hidden_size: int = 48,
        latent_size: int = 12,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        kw = {
            "num_layers": num_layers,
            "batch_first": True,
            "dropout": dropout if num_layers > 1 else 0.0,
        }
        self.inp = nn.Sequential(nn.Linear(n_features, hidden_size), nn.GELU())
        self.encoder = rnn(hidden_size, hidden_size, **kw)
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.from_latent = nn.Linear(latent_size, hidden_size * num_layers)
        self.decoder = rnn(latent_size, hidden_size, **kw)
        self.out = nn.Linear(hidden_size, n_outputs)

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, W, F) -> latent (B, Z)."""
        _, state = self.encoder(self.inp(x))
        h = state[0] if self.cell == "lstm" else state
        return self.to_latent(h[-1])

    def decode(self, z: Tensor, length: int) -> Tensor:
        """z: (B, Z) -> reconstruction (B, length, V), newest row decoded first."""
        b = z.shape[0]
        h0 = torch.tanh(self.from_latent(z)).view(b, self.num_layers, self.hidden_size)
        h0 = h0.transpose(0, 1).contiguous()
        state = (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0
        y, _ = self.decoder(z.unsqueeze(1).expand(b, length, z.shape[1]).contiguous(), state)
        return torch.flip(self.out(y), dims=[1])

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x), x.shape[1])

    def reconstruct_newest(self, x: Tensor) -> Tensor:
        """x: (B, W, F) -> reconstruction of the newest row only, (B, V).

        Equal to ``forward(x)[:, -1]``: the decoder rebuilds the newest row first and is
        causal, so one decoder step suffices (half the work when scoring).
        """
        return self.decode(self.encode(x), 1)[:, 0]
