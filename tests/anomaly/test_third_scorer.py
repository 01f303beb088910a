"""A third scorer added through the public protocol only: a per-variable z-score.

It is registered, configured in ``anomaly.scorers``, fitted and calibrated by
``fit_detector``, raises alarms through ``detect`` and survives save/load, without a line
changed in the package.

A real third scorer would take three files:

1. ``forecaster/anomaly/<name>.py``: the scorer class (``name``, ``label``,
   ``config_class``, ``variables``, ``context_rows``, ``from_config``, ``fit``, ``score``,
   ``summary``, ``state_dict``, ``from_state_dict``; see ``forecaster/anomaly/scorer.py``)
   and its config dataclass (``enabled`` and ``threshold`` fields plus its own settings);
2. ``forecaster/anomaly/registry.py``: one ``register_scorer(<Name>Scorer)`` line;
3. ``tests/anomaly/test_<name>.py``: its tests, like this file.

Its settings then go in a run config as ``anomaly.scorers.<name>: {...}`` (or, for a
built-in one, a field of ``AnomalyConfig`` beside ``autoencoder`` and ``pca``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.anomaly.config import (
    SCORER_SECTIONS,
    AnomalyConfig,
    AutoencoderConfig,
    ThresholdConfig,
)
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.features import FeatureSpec
from forecaster.anomaly.fit import fit_detector
from forecaster.anomaly.registry import SCORERS, register_scorer
from forecaster.anomaly.scorer import Scorer, ScorerInput, ScorerResult
from forecaster.data.features import Preprocessor
from tests.anomaly.conftest import FAST_TRAINER, make_batch, make_table


@dataclass
class ZScoreConfig:
    """Settings of the z-score scorer: which raw variables, and its threshold."""

    enabled: bool = True
    variables: list[str] = field(default_factory=lambda: ["do_pct", "ph", "temperature_C"])
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)

    def __post_init__(self) -> None:
        if isinstance(self.threshold, dict):
            self.threshold = ThresholdConfig(**self.threshold)


class ZScoreScorer:
    """Row-wise max |z| of raw readings against their mean and sd on fault-free batches."""

    name: ClassVar[str] = "zscore"
    label: ClassVar[str] = "z"
    config_class: ClassVar[type] = ZScoreConfig
    context_rows: int = 0

    def __init__(self, variables: list[str], mean=None, sd=None) -> None:
        self.variables = list(variables)
        self.mean, self.sd = mean, sd

    @classmethod
    def from_config(cls, cfg: ZScoreConfig, spec: FeatureSpec) -> ZScoreScorer:
        return cls(cfg.variables)

    def fit(self, train: Sequence[ScorerInput], val=(), **_: Any) -> ZScoreScorer:
        x = np.concatenate([self._matrix(b) for b in train])
        self.mean, self.sd = np.nanmean(x, axis=0), np.maximum(np.nanstd(x, axis=0), 1e-9)
        return self

    def _matrix(self, x: ScorerInput) -> np.ndarray:
        return np.stack([np.asarray(x.raw[v], dtype=float) for v in self.variables], axis=1)

    def score(self, x: ScorerInput, start: int = 0) -> ScorerResult:
        z2 = np.nan_to_num(((self._matrix(x)[start:] - self.mean) / self.sd) ** 2)
        tot = z2.sum(axis=1, keepdims=True)
        expected = np.broadcast_to(self.mean, z2.shape).copy()
        return ScorerResult(np.sqrt(z2.max(axis=1)), z2 / np.where(tot > 0, tot, 1.0), expected)

    def summary(self) -> dict[str, Any]:
        return {"n_variables": len(self.variables)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "variables": self.variables,
            "mean": torch.from_numpy(self.mean),
            "sd": torch.from_numpy(self.sd),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], spec: FeatureSpec) -> ZScoreScorer:
        return cls(state["variables"], state["mean"].numpy(), state["sd"].numpy())


@pytest.fixture
def registered():
    register_scorer(ZScoreScorer)
    yield
    SCORERS.pop("zscore", None)
    SCORER_SECTIONS.pop("zscore", None)


def test_zscore_scorer_alarms_through_detect_and_survives_save_load(registered, tmp_path):
    assert isinstance(ZScoreScorer(["do_pct"]), Scorer)  # the protocol, checked structurally
    table, _ = make_table(9, n_hours=72)
    ids = sorted(table[schema.BATCH_ID].unique())
    train = table[table[schema.BATCH_ID].isin(ids[:6])]
    val = {b: g for b, g in table[table[schema.BATCH_ID].isin(ids[6:])].groupby(schema.BATCH_ID)}
    prep = Preprocessor.fit(train, list(schema.VARIABLE_NAMES))
    cfg = AnomalyConfig(
        autoencoder=AutoencoderConfig(window_h=4, hidden_size=8, latent_size=2, max_epochs=1),
        pca={"enabled": False},
        scorers={"zscore": {"variables": ["do_pct", "ph"], "threshold": {"margin": 2.0}}},
    )
    det, info = fit_detector(train, val, cfg, prep, seed=0, trainer_kwargs=dict(FAST_TRAINER))
    assert det.names == ["autoencoder", "zscore"] and info["n_calibration_batches"] == 3
    zs, cal = det.get("zscore")
    assert cal.margin == 2.0 and cal.mode == "out_of_fold"  # its own section's threshold
    assert cal.n_batches == 6 and cal.heldout_batches == 3  # 6 training batches out of fold

    rows = make_batch("F", n_hours=72, seed=7, do_fault_h=40.0)
    events = det.detect(rows, detectors=("zscore",))
    assert events and all(e.detector == "zscore" for e in events)
    first = events[0]
    assert 40.0 <= first.raised_h <= 42.0 and first.top_variables[0][0] == "do_pct"
    assert first.threshold == cal.threshold and first.reason.startswith("DO fell")
    assert not det.detect(make_batch("N", n_hours=72, seed=3), detectors=("zscore",))

    det.save(tmp_path / "anomaly")
    loaded = AnomalyDetector.load(tmp_path)
    assert loaded.names == det.names
    again = loaded.detect(rows, detectors=("zscore",))
    assert [(e.key, e.reason) for e in again] == [(e.key, e.reason) for e in events]
    np.testing.assert_array_equal(loaded.get("zscore")[0].mean, zs.mean)
