"""Tiny hand-built batches and models for the explain tests (no simulator, no training)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.models.nets import ForecastNet

torch.set_num_threads(1)

VARIABLES = ["do_pct", "ph", "temperature_C", "glucose_g_L", "vcd_1e6_cells_mL"]


def tiny_table(
    n_batches: int = 4, n_days: int = 4, step_h: float = 6.0, seed: int = 0
) -> pd.DataFrame:
    """Batches with three online signals and two daily assays (NaN between assays)."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, n_days * 24.0 + 1e-9, step_h)
    parts = []
    for b in range(n_batches):
        daily = np.isclose(t % 24.0, 0.0)
        parts.append(
            pd.DataFrame(
                {
                    schema.BATCH_ID: f"B{b:02d}",
                    schema.TIME: t,
                    "do_pct": 40 + rng.normal(0, 5, t.size),
                    "ph": 7.0 + rng.normal(0, 0.05, t.size),
                    "temperature_C": 36.8 + rng.normal(0, 0.3, t.size),
                    "glucose_g_L": np.where(daily, 6 - t / 30 + rng.normal(0, 0.5, t.size), np.nan),
                    "vcd_1e6_cells_mL": np.where(
                        daily, 0.5 * np.exp(t / 40) * rng.uniform(0.8, 1.2), np.nan
                    ),
                    "feed_rate_mL_h": np.where(t > 48, 2.0, 0.0),
                    "titer_mg_L": np.where(daily, rng.uniform(8, 12) * t, np.nan),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


class TinyModel:
    """Stands in for ``SequenceForecaster``: ``net``, ``prep``, ``features``, ``head_fn``."""

    def __init__(self, net: nn.Module, prep: Preprocessor) -> None:
        self.net, self.prep = net.eval(), prep

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def features(self, rows: pd.DataFrame) -> np.ndarray:
        return self.prep.transform_batch(rows.sort_values(schema.TIME))

    def head_fn(self, target: str) -> Callable[[torch.Tensor], torch.Tensor]:
        def fn(x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            return out["feed"][:, -1] if target == "feed" else out["harvest"][:, -1, 1]

        return fn


class MaskedSumNet(nn.Module):
    """Causal hand-built net: feed(t) = tanh(sum_{s<=t} w . x_s); weights 0 on ``ignored``.

    ``x: (B, T, F)`` -> ``{"feed": (B, T), "harvest": (B, T, 3)}``.
    """

    def __init__(self, n_features: int, ignored: list[int]) -> None:
        super().__init__()
        w = torch.linspace(0.3, 1.0, n_features)
        w[ignored] = 0.0
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = torch.tanh(torch.cumsum(x @ self.w, dim=1) / 4.0)
        return {"feed": z, "harvest": torch.stack([z - 1, z, z + 1], dim=-1)}


@pytest.fixture(scope="session")
def table() -> pd.DataFrame:
    return tiny_table()


@pytest.fixture(scope="session")
def prep(table: pd.DataFrame) -> Preprocessor:
    return Preprocessor.fit(table, VARIABLES)


@pytest.fixture()
def gru_model(prep: Preprocessor) -> TinyModel:
    torch.manual_seed(0)
    net = ForecastNet(prep.n_features, n_days=4, hidden_size=8, num_layers=1, dropout=0.0)
    return TinyModel(net, prep)


def batches_of(table: pd.DataFrame) -> list[pd.DataFrame]:
    return [g for _, g in table.groupby(schema.BATCH_ID, sort=True)]
