"""The sequence forecaster behind a fit/predict interface (same shape as the RF baseline).

``SequenceForecaster`` owns the trained :class:`ForecastNet`, its fitted
:class:`Preprocessor` and target scales. ``save`` writes one ``model.pt`` through
:func:`forecaster.state.save_state` (kind ``"forecaster"``, :data:`FORMAT_VERSION`): plain
values and tensors, read back with ``torch.load(weights_only=True)`` on any device. It is
the only source of the fitted preprocessing of a run; :func:`readable_copy` writes the same
values as JSON for people, and nothing reads that back.

Format versions: 1 = ``{"format": "bioreactor-forecaster/forecast-v1", "config": <the
whole model config>, ...}`` (migrated on load by :func:`_v1_to_v2`); 2 = the
:meth:`SequenceForecaster.state_dict` below (only the values the network is built from).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.data import targets
from forecaster.data.datasets import TargetScales
from forecaster.data.errors import RunFolderError
from forecaster.data.features import Preprocessor, upgrade_prep_state
from forecaster.data.io import atomic_write_text
from forecaster.data.process import Process, default_process
from forecaster.models.decode import QuantilePick, decode
from forecaster.models.forecast_config import ForecastConfig
from forecaster.models.inputs import check_batch
from forecaster.models.nets import ForecastNet
from forecaster.state import load_state, save_state

KIND = "forecaster"
FORMAT_VERSION = 2
#: ``format`` tag of version-1 files
FORMAT_V1 = "bioreactor-forecaster/forecast-v1"
#: ``ForecastNet`` arguments stored in ``model.pt`` (``hparams``)
NET_KEYS = ("n_features", "n_days", "quantiles", "cell", "hidden_size", "num_layers", "dropout",
            "anchor", "linear_skip", "harvest_gate")  # fmt: skip
PREDICTION_COLUMNS = (
    schema.BATCH_ID,
    "origin_h",
    "feed_next_mL_h",
    "harvest_titer_mg_L",
    "harvest_titer_p10_mg_L",
    "harvest_titer_p90_mg_L",
)


def input_variables(
    table: pd.DataFrame, exclude: Sequence[str], process: Process | None = None
) -> list[str]:
    """Variables of ``process`` (default CHO) present in ``table`` (with any value) minus
    ``exclude``, in the process's order. A product measured only at harvest is no input
    (it would be the answer itself on the last row and nothing before it)."""
    process = process or default_process()
    skip = set(exclude)
    if not targets.assayed_in_run(table, process.product):
        skip.add(process.product)
    return [
        v for v in process.names if v in table.columns and v not in skip and table[v].notna().any()
    ]


def product_aliases(names: Sequence[str], product: str) -> list[str]:
    """Config lists naming the CHO titer (the defaults) mean the process's product."""
    return list(dict.fromkeys(product if v == schema.TITER else v for v in names))


def feed_aliases(names: Sequence[str], feed: str | None) -> list[str]:
    """Config lists naming the CHO feed rate (the default ``exclude_inputs``) mean the
    process's feed (the recommendation target stays out of the inputs)."""
    return list(dict.fromkeys(feed if v == schema.FEED and feed else v for v in names))


def titer_anchor(prep: Preprocessor, scales: TargetScales) -> tuple[int, float, float] | None:
    """Map the last-measured-product feature onto the harvest target scale (log only).

    Feature: ``(log(y + offset) - mean) / std``; target: ``log(y / titer_scale)``.
    """
    product = prep.product
    if product not in prep.variables or not scales.titer_log or product not in prep.log_variables:
        return None
    i = prep.variables.index(product)
    return (
        prep.value_index(product),
        prep.std[i],
        prep.mean[i] - float(np.log(scales.titer_scale)),
    )


def harvest_gate(prep: Preprocessor, run_end_h: float) -> tuple[int, int, float, float] | None:
    """``ForecastNet``'s ``harvest_gate``: where the clock and the titer assay's age sit.

    Args:
        prep: fitted preprocessing (the product must be an offline input).
        run_end_h: planned end of a run, h (the median last hour of the training batches).
    """
    names = prep.feature_names
    if prep.product not in prep.offline or not np.isfinite(run_end_h):
        return None
    age = names.index(f"{prep.product}:age_d")
    return (names.index(schema.TIME), age, float(prep.time_scale_h), float(run_end_h))


def net_hparams(
    cfg: ForecastConfig, n_features: int, anchor, gate: Sequence[float] | None = None
) -> dict[str, Any]:
    """The ``ForecastNet`` arguments of a model config: plain values, as stored."""
    return {
        "n_features": int(n_features),
        "n_days": int(cfg.n_days),
        "quantiles": [float(q) for q in cfg.quantiles],
        "cell": str(cfg.cell),
        "hidden_size": int(cfg.hidden_size),
        "num_layers": int(cfg.num_layers),
        "dropout": float(cfg.dropout),
        "anchor": None if anchor is None else [float(a) for a in anchor],
        "linear_skip": bool(cfg.linear_skip),
        "harvest_gate": None if gate is None or anchor is None else [float(g) for g in gate],
    }


def _make_net(hparams: Mapping[str, Any]) -> ForecastNet:
    anchor, gate = hparams["anchor"], hparams.get("harvest_gate")
    return ForecastNet(
        **{
            **hparams,
            "anchor": tuple(anchor) if anchor else None,
            "harvest_gate": tuple(gate) if gate else None,
        }
    )


class SequenceForecaster:
    """Trained ForecastNet + preprocessing; predicts from raw batch rows.

    Attributes:
        net: the network (eval mode after fit/load).
        prep: input preprocessing fitted on training batches.
        scales: target scaling.
        hparams: the ``ForecastNet`` arguments (:data:`NET_KEYS`), plain values.
        horizon_days: days of the trajectory that training batches covered (later days
            are not reported).
    """

    def __init__(
        self,
        net: ForecastNet,
        prep: Preprocessor,
        scales: TargetScales,
        hparams: Mapping[str, Any],
        horizon_days: int | None = None,
    ) -> None:
        self.net, self.prep, self.scales = net.eval(), prep, scales
        # models saved before the harvest gate have none (``harvest_gate``: None)
        self.hparams = {k: hparams.get(k) for k in NET_KEYS}
        n_days = int(self.hparams["n_days"])
        self.horizon_days = int(min(horizon_days or n_days, n_days))
        gate = self.hparams["harvest_gate"]
        #: the culture day of the harvest: the trajectory ends there, at the harvest forecast
        self.harvest_day = (
            int(min(max(round(gate[3] / 24.0), 1), self.horizon_days))
            if gate
            else self.horizon_days
        )

    # --------------------------------------------------------------- building
    @classmethod
    def build(
        cls, cfg: ForecastConfig, train: pd.DataFrame, process: Process | None = None
    ) -> SequenceForecaster:
        """Fit preprocessing and target scales on ``train`` and create an untrained net.

        ``process`` (default CHO) names the product, the feed and the inputs' roles; the
        config's ``titer_mg_L`` in ``log_inputs`` / ``history_inputs`` means its product,
        and ``feed_rate_mL_h`` in ``exclude_inputs`` its feed.
        """
        process = process or default_process()
        prep = Preprocessor.fit(
            train,
            input_variables(train, feed_aliases(cfg.exclude_inputs, process.feed), process),
            product_aliases(cfg.log_inputs, process.product),
            history_variables=product_aliases(cfg.history_inputs, process.product),
            history_lags=cfg.history_lags,
            process=process,
        )
        prep.product_in_run = targets.assayed_in_run(train, process.product)
        scales = TargetScales.fit(train, cfg.titer_log, process.product, process.feed)
        anchor = titer_anchor(prep, scales) if cfg.anchor_titer else None
        ends = train.groupby(schema.BATCH_ID)[schema.TIME].max()
        horizon = int(ends.max() // 24)
        gate = harvest_gate(prep, float(ends.median())) if anchor is not None else None
        hparams = net_hparams(cfg, prep.n_features, anchor, gate)
        return cls(_make_net(hparams), prep, scales, hparams, horizon)

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

    def check(self, rows: pd.DataFrame, source: str | None = None) -> None:
        """Refuse rows of one batch (sorted by time) the model cannot use.

        Raises:
            DataError: a missing input column, time missing or not increasing, a value
                outside its physical range (see :mod:`forecaster.models.inputs`).
        """
        check_batch(rows, self.prep.variables, source=source, bounds_of=self.prep.bounds)

    @torch.no_grad()
    def step_outputs(
        self, batches: Sequence[pd.DataFrame], chunk: int = 256
    ) -> list[dict[str, np.ndarray]]:
        """Decoded per-step outputs of each batch, one network pass per chunk.

        Each batch is checked first (:meth:`check`), then decoded by
        :func:`forecaster.models.decode.decode`.

        Returns per batch: ``time_h (T,)``, ``feed (T,)`` mL/h, ``harvest (T, Q)`` mg/L,
        ``trajectory (T, D, Q)`` mg/L (D = ``harvest_day``; its last day is the harvest
        forecast). Row t is the forecast made with rows <= t.
        """
        rows = [b.sort_values(schema.TIME) for b in batches]
        for r in rows:
            self.check(r)
        xs = [self.prep.transform_batch(r) for r in rows]
        out: list[dict[str, np.ndarray]] = []
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
                steps = decode(
                    {k2: v[k, :n] for k2, v in res.items()},
                    self.scales,
                    self.horizon_days,
                    self.harvest_day,
                )
                out.append({"time_h": rows[i + k][schema.TIME].to_numpy(dtype=float), **steps})
        return out

    def remaining_days(self, time_h: float) -> np.ndarray:
        """Days (1-based) of the trajectory still ahead of ``time_h`` and within the horizon.

        The trajectory head is trained on future days only, so earlier days of its output
        carry no forecast and are never reported.
        """
        days = np.arange(1, self.harvest_day + 1)
        return days[days * 24.0 > float(time_h) + 1e-9]

    def predict(self, prefixes: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """One row per prefix (its last row is the forecast origin); columns PREDICTION_COLUMNS."""
        lo, mid, hi = QuantilePick.of(self.net.quantiles)
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
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to predict, as tensors and plain values (format version 2)."""
        return {
            "hparams": dict(self.hparams),
            "horizon_days": int(self.horizon_days),
            "weights": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "prep": self.prep.state_dict(),
            "scales": self.scales.state_dict(),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> SequenceForecaster:
        """Inverse of :meth:`state_dict` (current format version)."""
        net = _make_net(state["hparams"])
        net.load_state_dict(state["weights"])
        prep = Preprocessor.from_state_dict(state["prep"])
        scales = TargetScales.from_state_dict(state["scales"])
        return cls(net, prep, scales, state["hparams"], state["horizon_days"])

    def save(self, path: str | Path) -> Path:
        """Write ``model.pt`` atomically (kind ``"forecaster"``, :data:`FORMAT_VERSION`)."""
        return save_state(path, KIND, FORMAT_VERSION, self.state_dict())

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SequenceForecaster:
        """Read a ``model.pt`` of any readable format version (older ones are migrated).

        Raises:
            RunFolderError: missing or unreadable file, another kind, an unknown version.
        """
        state = load_state(path, KIND, FORMAT_VERSION, migrations={1: _v1_to_v2})
        model = cls.from_state_dict(state)
        return model if str(map_location) == "cpu" else model.to(map_location)

    def to(self, device: str | torch.device) -> SequenceForecaster:
        """Move the network to ``device``; returns ``self``."""
        self.net.to(device)
        return self


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 (the whole model config, weights under ``state_dict``) -> version 2."""
    if doc.get("format") != FORMAT_V1:
        raise RunFolderError(
            f"forecaster format {doc.get('format')!r} is not {FORMAT_V1!r}; train the run again"
        )
    cfg = doc["config"]
    anchor = doc.get("anchor")
    hparams = {
        "n_features": int(doc["n_features"]),
        "n_days": int(cfg["n_days"]),
        "quantiles": [float(q) for q in cfg["quantiles"]],
        "cell": str(cfg["cell"]),
        "hidden_size": int(cfg["hidden_size"]),
        "num_layers": int(cfg["num_layers"]),
        "dropout": float(cfg["dropout"]),
        "anchor": [float(a) for a in anchor] if anchor else None,
        "linear_skip": bool(cfg.get("linear_skip", False)),  # older models: built without
    }
    return {
        "hparams": hparams,
        "horizon_days": int(doc.get("horizon_days") or hparams["n_days"]),
        "weights": doc["state_dict"],
        "prep": upgrade_prep_state(doc["prep"]),
        "scales": {"titer_log": True, **doc["scales"]},
    }


def readable_copy(model: SequenceForecaster, path: str | Path) -> Path:
    """Write the fitted preprocessing and target scales of ``model`` as JSON, for people.

    A human-readable copy of what ``model.pt`` holds; no code reads it back (``model.pt`` is
    the only source), so editing it changes nothing.

    Returns:
        ``path``.
    """
    doc = {
        "note": "human-readable copy of model.pt (never read back; model.pt is the source)",
        "preprocessing": model.prep.state_dict(),
        "features": model.prep.feature_names,
        "target_scales": model.scales.state_dict(),
    }
    return atomic_write_text(Path(path), json.dumps(doc, indent=1))
