"""The trained anomaly detector: calibrated scorers + rules, for one batch at a time.

A detector holds the fitted preprocessing, the feature layout shared by its scorers, each
scorer (:mod:`forecaster.anomaly.scorer`) with its threshold
:class:`~forecaster.anomaly.threshold.Calibration`, and the rule set (settings, fitted
controller-consistency model, highest normal agitation).

Files under ``<run_dir>/anomaly/`` (format 3):

- ``model.pt``: everything above as plain values and tensors, written by
  :func:`forecaster.state.save_state` (kind ``anomaly-detector``, ``format_version`` 3;
  ``torch.load(weights_only=True)``);
- ``thresholds.json``: a readable copy of the calibrations and rule settings (not read on
  load).

Format 1 folders (``model.pt`` + ``thresholds.json`` + ``pca.npz``) load through
:mod:`forecaster.anomaly.format_v1`. Format 3 added the autoencoder's step scale
(:mod:`~forecaster.anomaly.step_scale`); a format 2 file loads without one (its scores and
thresholds as they were), and a package that reads format 2 only refuses a format 3 file
instead of scoring it without the scale its threshold was set with.

``detect`` and ``stream`` share one path (:class:`~forecaster.anomaly.stream.AlarmStream`):
one-shot detection is a stream fed the whole batch at once. ``detect_many`` is ``detect`` of
each batch with the scorers run over many batches first (a scorer's ``score_many``, e.g. the
autoencoder's network over the windows of many batches per pass); the streams then read
those scores, so the alarms, times and reasons are those of ``detect``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel
from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.features import SETPOINT_OF, FeatureSpec
from forecaster.anomaly.format_v1 import v1_to_v2
from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
from forecaster.anomaly.registry import scorer_class
from forecaster.anomaly.rule_profile import RuleProfile
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.anomaly.scorer import Scorer, ScorerInput, ScorerResult
from forecaster.anomaly.stream import AlarmStream
from forecaster.anomaly.threshold import Calibration
from forecaster.data.features import Preprocessor
from forecaster.data.io import atomic_write_text
from forecaster.state import load_state, save_state

KIND, FORMAT_VERSION = "anomaly-detector", 3
#: Batches whose inputs and scores ``detect_many`` holds at once (bounds its memory).
GROUP = 64
MODEL_FILE, THRESHOLD_FILE = "model.pt", "thresholds.json"
RULES = "rules"  # the rule set's name among the detectors of a stream


class AnomalyDetectorError(FileNotFoundError):
    """A run folder lacks the anomaly files, or they do not fit together."""


@dataclass
class AnomalyDetector:
    """Scores and alarms for one batch at a time.

    Attributes:
        prep: fitted preprocessing.
        spec: the feature layout every scorer reads.
        scorers: ``[(scorer, calibration), ...]``; the first is the primary scorer (alarmed
            on with the rules by default, tabled by :meth:`score`).
        rules: rule settings.
        consistency: fitted controller-consistency checks, run with the rules.
        agitation_max: highest agitation of the good training batches (rpm), for reasons.
        profile: what the rules learned on the good training batches (noise, ranges, rules
            switched off); None for detectors saved before it existed (config values only).
        variables: the process column of each rule part; None: the CHO columns (detectors
            saved before it existed).
    """

    prep: Preprocessor
    spec: FeatureSpec
    scorers: list[tuple[Scorer, Calibration]]
    rules: RulesConfig
    consistency: ConsistencyModel | None = None
    agitation_max: float | None = None
    profile: RuleProfile | None = None
    variables: RuleVariables | None = None

    def __post_init__(self) -> None:
        if not self.scorers:
            raise ValueError("an AnomalyDetector needs at least one calibrated scorer")
        self.scorers = list(self.scorers)

    @property
    def names(self) -> list[str]:
        """Names of the scorers, primary first."""
        return [s.name for s, _ in self.scorers]

    def get(self, name: str) -> tuple[Scorer, Calibration] | None:
        """The scorer called ``name`` and its calibration, or None."""
        return next(((s, c) for s, c in self.scorers if s.name == name), None)

    @property
    def threshold(self) -> float:
        """Raw threshold of the primary scorer (its score units)."""
        return self.scorers[0][1].threshold

    @property
    def default_detectors(self) -> tuple[str, ...]:
        """What ``detect``/``stream`` run when not told: the primary scorer and the rules."""
        return (self.scorers[0][0].name, RULES)

    # ------------------------------------------------------------------ public API
    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Per-row score of the primary scorer on one batch.

        Returns:
            DataFrame with ``time_h``, ``<label>_score``, ``<label>_threshold`` (``ae_score``,
            ``ae_threshold`` for the autoencoder) and one ``contrib_<variable>`` column per
            scored variable (shares summing to 1).
        """
        rows = self._check(rows)
        scorer, cal = self.scorers[0]
        r = scorer.score(self._input(rows))
        t = rows[schema.TIME].to_numpy(float)
        out = pd.DataFrame({schema.TIME: t, f"{scorer.label}_score": r.score})
        out[f"{scorer.label}_threshold"] = cal.threshold
        for j, v in enumerate(scorer.variables):
            out[f"contrib_{v}"] = r.contrib[:, j]
        return out

    def detect(
        self, rows: pd.DataFrame, detectors: tuple[str, ...] | None = None
    ) -> list[AlarmEvent]:
        """Alarm events of one batch, in order of raising.

        Args:
            detectors: scorer names and/or ``"rules"`` (default :attr:`default_detectors`).
        """
        rows = self._check(rows)
        s = self.stream(_batch_id(rows), detectors=detectors)
        s.update(rows)
        return s.events

    def stream(
        self,
        batch_id: str,
        detectors: tuple[str, ...] | None = None,
        keep_history: bool = False,
    ) -> AlarmStream:
        """Incremental detector for a running batch (``.update(new_rows)`` -> new alarms)."""
        detectors = self._detectors(detectors)
        return AlarmStream(self, str(batch_id), detectors, keep_history=keep_history)

    def detect_many(
        self,
        batches: Sequence[pd.DataFrame],
        detectors: tuple[str, ...] | None = None,
        vocabularies: Sequence[Vocabulary | None] | None = None,
    ) -> list[list[AlarmEvent]]:
        """:meth:`detect` of each batch, with the scorers run over many batches at once.

        A scorer with a ``score_many`` (the autoencoder) scores :data:`GROUP` batches per
        call; the others score batch by batch. The alarms, their times and reasons are those
        of :meth:`detect` (scores equal to float rounding).

        Args:
            batches: the rows of one batch per entry (each sorted here by time if needed).
            detectors: scorer names and/or ``"rules"`` (default :attr:`default_detectors`).
            vocabularies: per batch, the names and units its reasons speak in
                (:func:`~forecaster.anomaly.reasons.use_vocabulary`); None: the current one.

        Returns:
            per batch, its alarm events in order of raising.
        """
        detectors = self._detectors(detectors)
        if vocabularies is not None and len(vocabularies) != len(batches):
            raise ValueError(f"{len(vocabularies)} vocabularies for {len(batches)} batches")
        out: list[list[AlarmEvent]] = []
        for lo in range(0, len(batches), GROUP):
            rows = [self._check(r) for r in batches[lo : lo + GROUP]]
            inputs = [self._input(r) for r in rows]
            scored = {s.name: _score_all(s, inputs) for s, _ in self.scorers if s.name in detectors}
            for i, (r, x) in enumerate(zip(rows, inputs)):
                ready = [(_Scored(s, x.t_h, scored[s.name][i]) if s.name in scored else s, c)
                         for s, c in self.scorers]  # fmt: skip
                vocab = vocabularies[lo + i] if vocabularies is not None else None
                with use_vocabulary(vocab) if vocab is not None else nullcontext():
                    stream = replace(self, scorers=ready).stream(_batch_id(r), detectors)
                    stream.update(r)
                out.append(stream.events)
        return out

    def _detectors(self, detectors: tuple[str, ...] | None) -> tuple[str, ...]:
        detectors = tuple(detectors) if detectors is not None else self.default_detectors
        unknown = [d for d in detectors if d != RULES and self.get(d) is None]
        if unknown:
            raise ValueError(
                f"this detector has no scorer {unknown} (it has {self.names}; a scorer left "
                f"out at training, e.g. anomaly.{unknown[0]}.enabled=false, cannot run)"
            )
        return detectors

    def _input(self, rows: pd.DataFrame) -> ScorerInput:
        """The scorers' view of checked rows: the columns they read (:meth:`_needed`)."""
        raw = {c: rows[c].to_numpy(dtype=float) for c in self._needed()}
        return ScorerInput(raw[schema.TIME], raw, self.spec.features(self.prep, raw))

    def _needed(self) -> list[str]:
        """Time, the preprocessed variables and the set points of the deviation variables."""
        sps = (SETPOINT_OF[v] for v in self.spec.dev_vars)
        return list(dict.fromkeys([schema.TIME, *self.prep.variables, *sps]))

    def _check(self, rows: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self._needed() if c not in rows.columns]
        if missing:
            raise KeyError(f"rows lack columns {missing} needed by the anomaly detector")
        if schema.BATCH_ID in rows:
            ids = rows[schema.BATCH_ID].to_numpy()
            if len(ids) and (ids != ids[0]).any():
                raise ValueError("detect/score take the rows of one batch; group by batch_id first")
        if np.any(np.diff(rows[schema.TIME].to_numpy(float)) < 0):
            rows = rows.sort_values(schema.TIME, kind="stable")
        return rows

    # ---------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors (``torch.load(weights_only=True)``-safe)."""
        return {
            "prep": self.prep.state_dict(),
            "spec": self.spec.to_dict(),
            "scorers": [
                {"name": s.name, "state": s.state_dict(), "calibration": c.to_dict()}
                for s, c in self.scorers
            ],
            "rules": asdict(self.rules),
            "consistency": self.consistency.to_dict() if self.consistency else None,
            "agitation_max_rpm": self.agitation_max,
            "rule_profile": self.profile.to_dict() if self.profile else None,
            "rule_variables": self.variables.to_dict() if self.variables else None,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> AnomalyDetector:
        spec = FeatureSpec(**state["spec"])
        scorers = [
            (scorer_class(d["name"]).from_state_dict(d["state"], spec), Calibration(**d["calibration"]))
            for d in state["scorers"]
        ]  # fmt: skip
        cons, prof = state.get("consistency"), state.get("rule_profile")
        rv = state.get("rule_variables")
        return cls(
            prep=Preprocessor.from_state_dict(state["prep"]),
            spec=spec,
            scorers=scorers,
            rules=RulesConfig(**state["rules"]),
            consistency=ConsistencyModel(**cons) if cons else None,
            agitation_max=state.get("agitation_max_rpm"),
            profile=RuleProfile(**prof) if prof else None,
            variables=RuleVariables(**rv) if rv else None,
        )

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``model.pt`` (the state) and ``thresholds.json`` (a readable copy of the
        calibrations) into ``folder`` (the run's ``anomaly/``), atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"model": folder / MODEL_FILE, "thresholds": folder / THRESHOLD_FILE}
        save_state(paths["model"], KIND, FORMAT_VERSION, self.state_dict())
        readable = {
            **{s.name: c.to_dict() for s, c in self.scorers},
            "rules": asdict(self.rules),
            "agitation_max_rpm": self.agitation_max,
            "score_variables": list(self.spec.variables),
            "consistency": self.consistency.to_dict() if self.consistency else None,
            "rule_profile": self.profile.to_dict() if self.profile else None,
            "rule_variables": self.variables.to_dict() if self.variables else None,
        }
        atomic_write_text(paths["thresholds"], json.dumps(readable, indent=2))
        return paths

    @classmethod
    def load(cls, run_dir: str | Path) -> AnomalyDetector:
        """Load from a run folder (or its ``anomaly/`` subfolder), migrating older formats.

        Raises:
            AnomalyDetectorError: no ``model.pt`` (the run had no anomaly stage).
            RunFolderError: unreadable file, or a format version this package cannot read.
        """
        run_dir = Path(run_dir)
        folder = run_dir if (run_dir / MODEL_FILE).exists() else run_dir / "anomaly"
        if not (folder / MODEL_FILE).exists():
            raise AnomalyDetectorError(
                f"{folder / MODEL_FILE} not found: train with anomaly.enabled=true to create it"
            )
        steps = {1: v1_to_v2(folder), 2: lambda s: s}  # 2 -> 3: no step scale saved
        state = load_state(folder / MODEL_FILE, KIND, FORMAT_VERSION, steps)
        return cls.from_state_dict(state)


def _batch_id(rows: pd.DataFrame) -> str:
    return str(rows[schema.BATCH_ID].iloc[0]) if schema.BATCH_ID in rows else "batch"


def _score_all(scorer: Scorer, inputs: list[ScorerInput]) -> list[ScorerResult]:
    """Every row of each input scored: ``score_many`` when the scorer has one."""
    many = getattr(scorer, "score_many", None)
    return many(inputs) if many is not None else [scorer.score(x) for x in inputs]


class _Scored:
    """A scorer that already holds its scores of one batch (:meth:`AnomalyDetector.
    detect_many`): asked for all rows of that batch it returns them; anything else goes to
    the scorer itself."""

    def __init__(self, scorer: Scorer, t_h: np.ndarray, result: ScorerResult) -> None:
        self._scorer, self._t_h, self._result = scorer, t_h, result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scorer, name)

    def score(self, x: ScorerInput, start: int = 0) -> ScorerResult:
        if start == 0 and np.array_equal(x.t_h, self._t_h):
            return self._result
        return self._scorer.score(x, start)
