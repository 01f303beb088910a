"""The scorer contract: what every anomaly score (autoencoder, PCA, ...) provides.

Anomaly detection is split as score -> detect -> aggregate:

- a **scorer** (this protocol) is fitted on fault-free batches and turns the rows of one
  batch into a causal per-row score, per-variable contributions and expected readings;
- the **detector** (:class:`~forecaster.anomaly.detector.AnomalyDetector`) holds each
  scorer with its :class:`~forecaster.anomaly.threshold.Calibration` and turns scores into
  alarm events (:mod:`~forecaster.anomaly.stream`), beside the rules;
- events of several detectors are **aggregated** in the evaluation (``combined``).

A scorer is registered by name in :mod:`forecaster.anomaly.registry`; its settings are its
own config section (a dataclass with ``enabled`` and ``threshold`` fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from forecaster.anomaly.features import FeatureSpec


@dataclass
class ScorerInput:
    """The rows of one batch as every scorer sees them (sorted by time).

    Attributes:
        t_h: (T,) hours since inoculation.
        raw: ``{column: (T,) float}`` raw readings in their units (NaN where not measured).
        feats: (T, F_all) float32 features of the detector's :class:`FeatureSpec`.
    """

    t_h: np.ndarray
    raw: Mapping[str, np.ndarray]
    feats: np.ndarray


@dataclass
class ScorerResult:
    """Scores of rows ``start:`` of a :class:`ScorerInput` (n rows).

    Attributes:
        score: (n,) anomaly score in the scorer's own units (alarm above the threshold).
        contrib: (n, V) each scored variable's share of the row's score (rows sum to 1 or 0).
        expected: (n, V) the reading the scorer expected, in the variable's raw unit (NaN
            where the scorer has no expectation).
    """

    score: np.ndarray
    contrib: np.ndarray
    expected: np.ndarray


@runtime_checkable
class Scorer(Protocol):
    """A causal anomaly score fitted on fault-free batches.

    Class attributes: ``name`` (registry name, ``AlarmEvent.detector``), ``label`` (column
    prefix in :meth:`AnomalyDetector.score` tables, e.g. ``ae`` -> ``ae_score``) and
    ``config_class`` (its config section). ``variables`` lists the V scored variables.
    ``context_rows`` is how many rows before the first scored row :meth:`score` looks back
    to (0 for a row-wise score); a stream keeps at least that many.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    config_class: ClassVar[type]
    variables: list[str]

    @property
    def context_rows(self) -> int: ...

    @classmethod
    def from_config(cls, cfg: Any, spec: FeatureSpec) -> Scorer:
        """An unfitted scorer with the settings of its config section."""
        ...

    def fit(
        self,
        train: Sequence[ScorerInput],
        val: Sequence[ScorerInput],
        *,
        seed: int = 0,
        trainer_kwargs: dict[str, Any] | None = None,
        log_dir: Path | None = None,
    ) -> Scorer:
        """Fit on fault-free training batches (``val``: fault-free, for early stopping or
        monitoring only; calibration happens outside). Returns ``self``."""
        ...

    def score(self, x: ScorerInput, start: int = 0) -> ScorerResult:
        """Scores of rows ``start:``; row t may use rows ``<= t`` only (rows before
        ``start`` are context)."""
        ...

    def summary(self) -> dict[str, Any]:
        """Plain facts about the fit for ``metrics.json`` (may be empty)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors (``torch.load(weights_only=True)``-safe)."""
        ...

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], spec: FeatureSpec) -> Scorer: ...


def expected_readings(
    x: ScorerInput, spec: FeatureSpec, start: int, expected_scaled: np.ndarray
) -> np.ndarray:
    """(n, V) expected raw readings from an expectation in the spec's scaled target units.

    The expected reading is the last reading minus the error taken back to raw units:
    ``last - (target - expected_scaled) * target_std`` (for a variable scored on its
    deviation from set point, the error in deviation units is the error of the reading).
    """
    target = x.feats[start:, spec.target_idx].astype(np.float64)
    gap = (target - expected_scaled) * np.asarray(spec.target_std)
    last = np.stack([_locf(x.raw.get(v), len(x.t_h))[start:] for v in spec.variables], axis=1)
    return last - gap


def _locf(x: np.ndarray | None, n: int) -> np.ndarray:
    """(n,) last finite value at or before each row (NaN before the first one)."""
    if x is None:
        return np.full(n, np.nan)
    x = np.asarray(x, dtype=float)
    idx = np.where(np.isfinite(x), np.arange(len(x)), -1)
    idx = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(idx >= 0, x[np.maximum(idx, 0)], np.nan)


def rows_to_arrays(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """``{column: (T,) float}`` of every column of ``rows`` that holds numbers."""
    out = {}
    for c in rows.columns:
        try:
            out[c] = rows[c].to_numpy(dtype=float)
        except (ValueError, TypeError):  # ids, fault types: text
            continue
    return out
