"""Pure torch networks of the forecaster (no Lightning here).

The network is causal and emits an output at every time step, so one pass over a batch
gives the prediction for *every* prefix: the output at step ``t`` only depends on rows
``<= t``. Padding at the end of shorter sequences therefore never leaks into valid steps,
and a running batch at day 4 is handled exactly like the first 4 days of a finished one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

Tensor = torch.Tensor
RNNState = Tensor | tuple[Tensor, Tensor]


class MonotoneQuantiles(nn.Module):
    """Linear layer emitting ``n_out`` groups of sorted quantiles.

    The median is a free output; lower and upper quantiles sit at softplus distances below
    and above it, so the quantiles never cross.
    """

    def __init__(self, in_features: int, n_out: int, quantiles: Sequence[float]) -> None:
        super().__init__()
        self.quantiles = [float(q) for q in quantiles]
        if sorted(self.quantiles) != self.quantiles or 0.5 not in self.quantiles:
            raise ValueError(f"quantiles must be sorted and contain 0.5, got {self.quantiles}")
        self.n_out = n_out
        self.mid = self.quantiles.index(0.5)
        self.linear = nn.Linear(in_features, n_out * len(self.quantiles))

    def forward(self, h: Tensor) -> Tensor:
        """h: (..., in_features) -> (..., n_out, Q)."""
        raw = self.linear(h).unflatten(-1, (self.n_out, len(self.quantiles)))
        med = raw[..., self.mid : self.mid + 1]
        gaps = F.softplus(raw) + 1e-4
        below = torch.flip(torch.cumsum(torch.flip(gaps[..., : self.mid], [-1]), -1), [-1])
        above = torch.cumsum(gaps[..., self.mid + 1 :], -1)
        return torch.cat([med - below, med, med + above], dim=-1)


class ForecastNet(nn.Module):
    """GRU/LSTM encoder with three heads: next feed rate, harvest titer, titer trajectory.

    Args:
        n_features: F, input features per time step (see ``Preprocessor.feature_names``).
        n_days: D, days of the daily titer grid (day 1..D) predicted by the trajectory head.
        quantiles: predicted quantiles of harvest titer and trajectory (must contain 0.5).
        cell: ``"gru"`` or ``"lstm"``.
        hidden_size, num_layers, dropout: encoder size (dropout between layers and heads).
        anchor: optional ``(feature_index, scale, shift)``: the titer heads predict an offset
            from ``x[..., feature_index] * scale + shift`` (the last measured titer mapped to
            the target scale), so "harvest = today's titer x growth still to come" is built
            in and the network learns only the growth factor.
        linear_skip: add a linear function of the step's inputs to the titer heads' location
            (all quantiles shift together), the autoregressive "highway" of LSTNet (Lai et
            al. 2018, arXiv:1703.07015). With the assay history among the inputs it is a
            regression on the growth curve that the recurrent part corrects; starts at zero.
        harvest_gate: optional ``(time_index, age_index, time_scale_h, run_end_h)`` (needs
            ``anchor``): where the last titer assay was taken at or after the planned end of
            the run (``x[time_index] * time_scale_h - 24 * x[age_index] >= run_end_h``), the
            harvest titer is measured, so every harvest quantile is the anchor itself (no
            growth still to come). Learning this was left to the network before: the one
            final row per batch is 1/337 of the harvest loss, so the net extrapolated the
            previous day's growth onto the harvest assay (+11.8 % median on finished batches).

    Outputs of ``forward(x)`` for ``x: (B, T, F)``, all in scaled units:
        ``feed``: (B, T) next-step feed rate; ``harvest``: (B, T, Q) harvest titer quantiles;
        ``trajectory``: (B, T, D, Q) titer quantiles on days 1..D.
    """

    def __init__(
        self,
        n_features: int,
        n_days: int = 14,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        anchor: tuple[int, float, float] | None = None,
        linear_skip: bool = False,
        harvest_gate: tuple[int, int, float, float] | None = None,
    ) -> None:
        super().__init__()
        self.anchor = (
            None if anchor is None else (int(anchor[0]), float(anchor[1]), float(anchor[2]))
        )
        if harvest_gate is not None and anchor is None:
            raise ValueError("harvest_gate needs an anchor (the measured titer to report)")
        self.harvest_gate = (
            None
            if harvest_gate is None
            else (int(harvest_gate[0]), int(harvest_gate[1]), *map(float, harvest_gate[2:]))
        )
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.n_features, self.n_days, self.cell = n_features, n_days, cell
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.inp = nn.Sequential(nn.Linear(n_features, hidden_size), nn.GELU())
        self.rnn = rnn_cls(
            hidden_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.trunk = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(hidden_size + n_features, hidden_size), nn.GELU()
        )
        self.feed_head = nn.Linear(hidden_size, 1)
        self.harvest_head = MonotoneQuantiles(hidden_size, 1, quantiles)
        self.traj_head = MonotoneQuantiles(hidden_size, n_days, quantiles)
        self.skip: nn.Linear | None = None
        if linear_skip:
            self.skip = nn.Linear(n_features, 1 + n_days)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    @property
    def quantiles(self) -> list[float]:
        return self.harvest_head.quantiles

    def encode(self, x: Tensor, state: RNNState | None = None) -> tuple[Tensor, RNNState]:
        """x: (B, T, F) -> hidden (B, T, H) and the final RNN state (for streaming)."""
        h, state = self.rnn(self.inp(x), state)
        return h, state

    def heads(self, h: Tensor, x: Tensor) -> dict[str, Tensor]:
        """Per-step heads from hidden ``h: (B, T, H)`` and the same steps' inputs ``x``."""
        z = self.trunk(torch.cat([h, x], dim=-1))
        harvest, traj = self.harvest_head(z).squeeze(-2), self.traj_head(z)
        if self.anchor is not None:
            idx, scale, shift = self.anchor
            base = x[..., idx] * scale + shift  # (B, T)
            harvest = harvest + base[..., None]
            traj = traj + base[..., None, None]
        if self.skip is not None:
            lin = self.skip(x)  # (B, T, 1 + D)
            harvest = harvest + lin[..., :1]
            traj = traj + lin[..., 1:, None]
        if self.harvest_gate is not None:
            harvest = torch.where(self.harvested(x)[..., None], base[..., None], harvest)
        return {"feed": self.feed_head(z).squeeze(-1), "harvest": harvest, "trajectory": traj}

    def harvested(self, x: Tensor) -> Tensor:
        """x: (B, T, F) -> (B, T) bool: the last titer assay is the harvest assay.

        True where it was taken at or after the planned end (``harvest_gate``; 0.5 h slack
        for clock jitter); all False without a gate.
        """
        if self.harvest_gate is None:
            return torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
        t_idx, age_idx, time_scale_h, run_end_h = self.harvest_gate
        assay_h = x[..., int(t_idx)] * time_scale_h - 24.0 * x[..., int(age_idx)]
        return assay_h >= run_end_h - 0.5

    def forward(self, x: Tensor, state: RNNState | None = None) -> dict[str, Tensor]:
        h, _ = self.encode(x, state)
        return self.heads(h, x)

    def step(self, x: Tensor, state: RNNState | None) -> tuple[dict[str, Tensor], RNNState]:
        """Streaming update: new rows ``x: (B, t_new, F)`` continue from ``state``."""
        h, state = self.encode(x, state)
        return self.heads(h, x), state
