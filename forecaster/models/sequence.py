"""The sequence forecaster behind a fit/predict interface (same shape as the RF baseline).

``SequenceForecaster`` owns the trained :class:`ForecastNet`, its fitted
:class:`Preprocessor` and target scales. ``save`` writes one ``model.pt`` of plain values
and tensors (``torch.load(weights_only=True)`` works); ``load`` restores it on any device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.data.datasets import TargetScales
from forecaster.data.features import Preprocessor
from forecaster.models.forecast import ForecastConfig
from forecaster.models.nets import ForecastNet

FORMAT = "bioreactor-forecaster/forecast-v1"
PREDICTION_COLUMNS = (
    schema.BATCH_ID,
    "origin_h",
    "feed_next_mL_h",
    "harvest_titer_mg_L",
    "harvest_titer_p10_mg_L",
    "harvest_titer_p90_mg_L",
)


def input_variables(table: pd.DataFrame, exclude: Sequence[str]) -> list[str]:
    """Canonical variables present in ``table`` (with any value) minus ``exclude``."""
    return [
        v
        for v in schema.VARIABLE_NAMES
        if v in table.columns and v not in exclude and table[v].notna().any()
    ]


def titer_anchor(prep: Preprocessor, scales: TargetScales) -> tuple[int, float, float] | None:
    """Map the last-measured-titer feature onto the harvest target scale (log only).

    Feature: ``(log(titer + offset) - mean) / std``; target: ``log(titer / titer_scale)``.
    """
    if (
        schema.TITER not in prep.variables
        or not scales.titer_log
        or schema.TITER not in prep.log_variables
    ):
        return None
    i = prep.variables.index(schema.TITER)
    return (
        prep.value_index(schema.TITER),
        prep.std[i],
        prep.mean[i] - float(np.log(scales.titer_scale)),
    )


def _make_net(cfg: ForecastConfig, n_features: int, anchor) -> ForecastNet:
    return ForecastNet(
        n_features,
        n_days=cfg.n_days,
        quantiles=cfg.quantiles,
        cell=cfg.cell,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
        anchor=anchor,
        linear_skip=bool(cfg.linear_skip),
    )


class SequenceForecaster:
    """Trained ForecastNet + preprocessing; predicts from raw batch rows.

    Attributes:
        net: the network (eval mode after fit/load).
        prep: input preprocessing fitted on training batches.
        scales: target scaling.
        cfg: the model config it was built with.
    """

    def __init__(
        self,
        net: ForecastNet,
        prep: Preprocessor,
        scales: TargetScales,
        cfg: ForecastConfig,
        horizon_days: int | None = None,
    ) -> None:
        self.net, self.prep, self.scales, self.cfg = net.eval(), prep, scales, cfg
        #: days of the trajectory that training batches covered (later days are not reported)
        self.horizon_days = int(min(horizon_days or cfg.n_days, cfg.n_days))

    # --------------------------------------------------------------- building
    @classmethod
    def build(cls, cfg: ForecastConfig, train: pd.DataFrame) -> SequenceForecaster:
        """Fit preprocessing and target scales on ``train`` and create an untrained net."""
        prep = Preprocessor.fit(
            train,
            input_variables(train, cfg.exclude_inputs),
            cfg.log_inputs,
            history_variables=cfg.history_inputs,
            history_lags=cfg.history_lags,
        )
        scales = TargetScales.fit(train, cfg.titer_log)
        anchor = titer_anchor(prep, scales) if cfg.anchor_titer else None
        horizon = int(train.groupby(schema.BATCH_ID)[schema.TIME].max().max() // 24)
        return cls(_make_net(cfg, prep.n_features, anchor), prep, scales, cfg, horizon)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def variables(self) -> list[str]:
        return list(self.prep.variables)

    # -------------------------------------------------------------- inference
    def features(self, rows: pd.DataFrame) -> np.ndarray:
        """(T, F) float32 features of one batch's rows (sorted by time)."""
        return self.prep.transform_batch(rows.sort_values(schema.TIME))

    @torch.no_grad()
    def step_outputs(
        self, batches: Sequence[pd.DataFrame], chunk: int = 256
    ) -> list[dict[str, np.ndarray]]:
        """Unscaled per-step outputs of each batch, one network pass per chunk.

        Returns per batch: ``time_h (T,)``, ``feed (T,)`` mL/h, ``harvest (T, Q)`` mg/L,
        ``trajectory (T, D, Q)`` mg/L. Row t is the forecast made with rows <= t.
        """
        xs = [self.features(b) for b in batches]
        times = [b.sort_values(schema.TIME)[schema.TIME].to_numpy(dtype=float) for b in batches]
        out: list[dict[str, np.ndarray]] = []
        s = self.scales
        for i in range(0, len(xs), chunk):
            part = xs[i : i + chunk]
            t_max = max(len(x) for x in part)
            pad = np.zeros((len(part), t_max, self.prep.n_features), np.float32)
            for k, x in enumerate(part):
                pad[k, : len(x)] = x
            res = self.net(torch.from_numpy(pad).to(self.device))
            res = {k: v.float().cpu().numpy() for k, v in res.items()}
            for k, x in enumerate(part):
                n = len(x)
                out.append(
                    {
                        "time_h": times[i + k],
                        "feed": np.maximum(res["feed"][k, :n] * s.feed_std + s.feed_mean, 0.0),
                        "harvest": s.titer_from_model(res["harvest"][k, :n]),
                        "trajectory": s.titer_from_model(
                            res["trajectory"][k, :n, : self.horizon_days]
                        ),
                    }
                )
        return out

    def remaining_days(self, time_h: float) -> np.ndarray:
        """Days (1-based) of the trajectory still ahead of ``time_h`` and within the horizon.

        The trajectory head is trained on future days only, so earlier days of its output
        carry no forecast and are never reported.
        """
        days = np.arange(1, self.horizon_days + 1)
        return days[days * 24.0 > float(time_h) + 1e-9]

    def predict(self, prefixes: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """One row per prefix (its last row is the forecast origin); columns PREDICTION_COLUMNS."""
        q = self.net.quantiles
        lo, mid, hi = q.index(min(q)), q.index(0.5), q.index(max(q))
        rows = []
        for p, o in zip(prefixes, self.step_outputs(prefixes)):
            h = o["harvest"][-1]
            rows.append(
                (
                    str(p[schema.BATCH_ID].iloc[0]),
                    float(o["time_h"][-1]),
                    float(o["feed"][-1]),
                    float(h[mid]),
                    float(h[lo]),
                    float(h[hi]),
                )
            )
        return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))

    def head_fn(self, target: str) -> Callable[[torch.Tensor], torch.Tensor]:
        """Scaled output at the last step: x (B, L, F) -> (B,); target 'feed' or 'titer'."""
        mid = self.net.quantiles.index(0.5)

        def fn(x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            return out["feed"][:, -1] if target == "feed" else out["harvest"][:, -1, mid]

        if target not in ("feed", "titer"):
            raise ValueError(f"target must be 'feed' or 'titer', got {target!r}")
        return fn

    # ------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """Everything needed to predict, as tensors and plain values."""
        return {
            "format": FORMAT,
            "config": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.cfg).items()
            },
            "n_features": self.prep.n_features,
            "anchor": list(self.net.anchor) if self.net.anchor else None,
            "horizon_days": self.horizon_days,
            "state_dict": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "prep": self.prep.state_dict(),
            "scales": self.scales.to_dict(),
        }

    def save(self, path: Path) -> None:
        from forecaster.data.io import atomic_path

        with atomic_path(Path(path)) as tmp:
            torch.save(self.state(), tmp)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SequenceForecaster:
        if state.get("format") != FORMAT:
            raise ValueError(
                f"unsupported forecast model format {state.get('format')!r}; expected {FORMAT!r}"
            )
        known = {f.name for f in fields(ForecastConfig)}
        values = {k: v for k, v in state["config"].items() if k in known}
        # models saved before these options existed were built without them
        values.setdefault("linear_skip", False)
        values.setdefault("history_lags", 0)
        cfg = ForecastConfig(**values)
        anchor = state.get("anchor")
        prep = Preprocessor.from_state_dict(state["prep"])
        net = _make_net(cfg, int(state["n_features"]), tuple(anchor) if anchor else None)
        net.load_state_dict(state["state_dict"])
        return cls(net, prep, TargetScales(**state["scales"]), cfg, state.get("horizon_days"))

    @classmethod
    def load(cls, path: Path, map_location: str | torch.device = "cpu") -> SequenceForecaster:
        return cls.from_state(torch.load(path, map_location=map_location, weights_only=True))
