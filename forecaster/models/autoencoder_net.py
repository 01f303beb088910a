"""Pure torch recurrent encoder-decoder that reconstructs windows of a batch's signals.

Follows the LSTM encoder-decoder anomaly detector of Malhotra et al. (2016), "LSTM-based
Encoder-Decoder for Multi-sensor Anomaly Detection" (arXiv:1607.00148): the encoder
compresses a window into a small latent vector, the decoder rebuilds the window from the
latent alone (no teacher forcing, so it cannot copy its input) in reverse order, which makes
the newest row the first one reconstructed and the best one to score a running batch on.

Scoring reconstructs the newest row of every window of W consecutive rows of a long
sequence (:meth:`AutoencoderNet.reconstruct_sliding`): the windows overlap, so the per-row
input layers are computed once per row instead of once per window and row (W times less
work), and the encoder steps through all windows together.
"""

from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor

#: Below this many windows :meth:`AutoencoderNet.reconstruct_sliding` runs the windows
#: through :meth:`~AutoencoderNet.reconstruct_newest` (the stepwise encoder's per-step
#: overhead is larger than the work it saves).
FEW_WINDOWS = 64


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

    def reconstruct_sliding(self, x: Tensor, window: int) -> Tensor:
        """Newest-row reconstruction of every window of ``window`` consecutive rows.

        Args:
            x: (R, F) rows in time order (R >= ``window``).
            window: W, rows per window.

        Returns:
            (R - W + 1, V): row i equals ``reconstruct_newest(x[i : i + W][None])[0]`` (to
            float rounding). Windows of several sequences are scored in one call by
            concatenating them and dropping the W - 1 outputs whose window straddles two.
        """
        if x.dim() != 2 or x.shape[0] < window or window < 1:
            raise ValueError(f"x must be (R >= {window}, F) rows, got {tuple(x.shape)}")
        n = x.shape[0] - window + 1
        if n < FEW_WINDOWS:  # a stream's update: one call on the windows costs less
            return self.reconstruct_newest(x.unfold(0, window, 1).transpose(1, 2).contiguous())
        seq = self.inp(x)  # (R, H): the input layer once per row
        h_last = None
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = _layer_weights(self.encoder, layer)
            if layer == 0:  # input gates once per row; window i reads rows i .. i + W - 1
                gates_in = torch.addmm(b_ih, seq, w_ih.t())
                steps = [gates_in[k : k + n] for k in range(window)]
            else:  # upper layers read the lower layer's output at each step of each window
                steps = [torch.addmm(b_ih, y, w_ih.t()) for y in seq]
            seq = self._run_cell(steps, w_hh, b_hh)
            h_last = seq[-1]
        return self._decode_newest(self.to_latent(h_last))

    def _decode_newest(self, z: Tensor) -> Tensor:
        """``decode(z, 1)[:, 0]`` stepped by hand: z (N, Z) -> (N, V)."""
        h0 = torch.tanh(self.from_latent(z)).view(z.shape[0], self.num_layers, self.hidden_size)
        y = z
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = _layer_weights(self.decoder, layer)
            y = self._run_cell([torch.addmm(b_ih, y, w_ih.t())], w_hh, b_hh, h0[:, layer])[-1]
        return self.out(y)

    def _run_cell(
        self, gates_in: list[Tensor], w_hh: Tensor, b_hh: Tensor, h0: Tensor | None = None
    ) -> list[Tensor]:
        """Hidden state (N, H) after each step, from ``h0`` (default zero; the LSTM's cell
        state from zero), given each step's input gates (N, G). The gate arithmetic follows
        the order of torch's own CPU cells."""
        n, hs = gates_in[0].shape[0], self.hidden_size
        h = gates_in[0].new_zeros(n, hs) if h0 is None else h0
        c = torch.zeros_like(h) if self.cell == "lstm" else None
        out = []
        for gi in gates_in:
            gh = torch.addmm(b_hh, h, w_hh.t())
            if self.cell == "gru":
                rz = gh[:, : 2 * hs].add_(gi[:, : 2 * hs]).sigmoid_()
                r, z = rz[:, :hs], rz[:, hs:]
                new = gi[:, 2 * hs :].add(gh[:, 2 * hs :].mul_(r)).tanh_()
                h = (h - new).mul_(z).add_(new)
            else:
                g = gh.add_(gi)
                i, f = g[:, :hs].sigmoid(), g[:, hs : 2 * hs].sigmoid()
                cell, o = g[:, 2 * hs : 3 * hs].tanh(), g[:, 3 * hs :].sigmoid()
                c = (f * c).add_(i * cell)
                h = o * c.tanh()
            out.append(h)
        return out


def _layer_weights(rnn: nn.Module, layer: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer of a torch GRU/LSTM."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(rnn, f"{k}_l{layer}") for k in names)
