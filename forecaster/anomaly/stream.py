"""Incremental alarms for a running batch; also the one-shot path (a stream fed everything).

Each ``update(new_rows)`` works on the new rows plus a bounded tail: the last rows that the
scorers (their ``context_rows``), the rules and the persistence logic can look back to, and for each
variable its last observed row (which is all that last-observation-carried-forward and
assay ages need). Work is therefore proportional to the window, not to the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel
from forecaster.anomaly.events import AlarmEvent, RunTracker, Span, top_shares
from forecaster.anomaly.features import SETTLE_TAU_H, FeatureSpec
from forecaster.anomaly.incidents import assign_incidents
from forecaster.anomaly.reasons import reason_sentence
from forecaster.anomaly.rule_profile import RuleProfile
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.anomaly.rules import evaluate_rules, lookback_h
from forecaster.anomaly.scorer import Scorer, ScorerInput
from forecaster.anomaly.threshold import Calibration
from forecaster.data.features import Preprocessor


class AlarmSource(Protocol):
    """What a stream reads from its detector (an :class:`~forecaster.anomaly.detector.
    AnomalyDetector`): the feature layout, the calibrated scorers and the rule set."""

    prep: Preprocessor
    spec: FeatureSpec
    scorers: list[tuple[Scorer, Calibration]]
    rules: RulesConfig
    consistency: ConsistencyModel | None
    agitation_max: float | None
    profile: RuleProfile | None
    variables: RuleVariables | None


class AlarmStream:
    """Alarms of one running batch, fed in time order.

    Attributes:
        events: every alarm raised so far (``end_h``/``peak_score``/``open``/``incident_id``
            kept current).
    """

    def __init__(
        self,
        det: AlarmSource,
        batch_id: str,
        detectors: tuple[str, ...],
        keep_history: bool = False,
    ) -> None:
        self.det, self.batch_id, self.detectors = det, batch_id, detectors
        self.events: list[AlarmEvent] = []
        self._open: list[tuple[AlarmEvent, Span]] = []
        self._event_of: dict[int, tuple[Span, AlarmEvent]] = {}  # id(span) -> its event
        self._tail: dict[str, np.ndarray] | None = None  # {column: (n,) rows kept}
        self._trimmed = True
        self._tail_gi = np.zeros(0, dtype=int)  # global row index of each tail row
        self._n_seen = 0
        self._trackers: dict[tuple[str, str | None], RunTracker] = {}
        self._hist: dict[str, list[np.ndarray]] | None = {} if keep_history else None
        self._scorers = [(s, c) for s, c in det.scorers if s.name in detectors]
        rule_vars = [*det.rules.stuck_variables, *det.rules.spike_limits]
        if det.variables is not None:
            rule_vars += det.variables.needed()
        self._cols = list(dict.fromkeys([schema.TIME, *det.prep.variables, *_EXTRA, *rule_vars]))

    # ------------------------------------------------------------------ public
    def update(self, new_rows: pd.DataFrame | Mapping[str, np.ndarray]) -> list[AlarmEvent]:
        """Consume the next rows (after the previous ones); return new alarms.

        Args:
            new_rows: a frame, or ``{column: (n,) array}`` (the Monitor's path: no frame
                per update); canonical columns, rows sorted here by time if they are not.
        """
        if isinstance(new_rows, pd.DataFrame) and len(new_rows) == 0:
            return []
        new = self._arrays(new_rows)
        if len(new[schema.TIME]) == 0:
            return []
        self._trim()  # drop what the previous update no longer needs (lazy: detect never pays)
        t_new = new[schema.TIME]
        tail = self._tail
        if tail is not None and len(tail[schema.TIME]) and t_new[0] <= tail[schema.TIME][-1]:
            raise ValueError(
                f"batch {self.batch_id}: new rows start at {t_new[0]} h, not after the last row "
                f"seen ({tail[schema.TIME][-1]} h)"
            )
        if tail is None:
            raw, n_prev = new, 0
        else:
            n_prev, n_new = len(tail[schema.TIME]), len(t_new)
            nan_new, nan_old = np.full(n_new, np.nan), np.full(n_prev, np.nan)
            raw = {
                c: np.concatenate([tail.get(c, nan_old), new.get(c, nan_new)])
                for c in dict.fromkeys([*tail, *new])
            }
        gi = np.concatenate([self._tail_gi, self._n_seen + np.arange(len(t_new))])
        t = raw[schema.TIME]
        x = ScorerInput(t, raw, self.det.spec.features(self.det.prep, raw))
        raised: list[AlarmEvent] = []
        for scorer, cal in self._scorers:
            raised += self._score_detector(scorer, cal, x, gi, n_prev)
        if "rules" in self.detectors and self.det.rules.enabled:
            raised += self._rules(raw, t, gi, n_prev)
        if self._hist is not None:
            self._hist.setdefault(schema.TIME, []).append(t[n_prev:])
        self._sync()
        self._n_seen += len(t_new)
        self._tail, self._tail_gi, self._trimmed = raw, gi, False
        raised.sort(key=lambda e: (e.raised_h, e.detector, e.rule or ""))
        self.events.extend(raised)
        self.events.sort(key=lambda e: (e.raised_h, e.detector, e.rule or ""))
        assign_incidents(self.events, self.det.rules.incident_gap_h)
        return raised

    def history(self) -> dict[str, np.ndarray]:
        """Per-row arrays seen so far (``keep_history=True``): time_h, ``<scorer>_score``
        (T,) and ``<scorer>_contrib`` (T, V) of each scorer run (``autoencoder_score``...),
        rules_flag (T,)."""
        if self._hist is None:
            raise ValueError("stream was created without keep_history=True")
        return {k: np.concatenate(v) for k, v in self._hist.items()}

    def _arrays(self, rows: pd.DataFrame | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{column: (n,) float}`` of the columns the stream reads, sorted by time."""
        if isinstance(rows, pd.DataFrame):
            new = {c: rows[c].to_numpy(float) for c in self._cols if c in rows.columns}
        else:
            new = {c: np.asarray(rows[c], dtype=float) for c in self._cols if c in rows}
        t = new[schema.TIME]
        if np.any(np.diff(t) < 0):
            order = np.argsort(t, kind="stable")
            new = {c: x[order] for c, x in new.items()}
        return new

    # ---------------------------------------------------------------- detectors
    def _score_detector(
        self, scorer: Scorer, cal: Calibration, x: ScorerInput, gi: np.ndarray, n_prev: int
    ) -> list[AlarmEvent]:
        name, k, t, raw = scorer.name, cal.persistence_steps, x.t_h, x.raw
        lo = max(0, n_prev - (k - 1))  # earlier rows: contributions over the persistence run
        r = scorer.score(x, lo)
        score, contrib = r.score, r.contrib
        off = n_prev - lo
        if self._hist is not None:
            self._hist.setdefault(f"{name}_score", []).append(score[off:])
            self._hist.setdefault(f"{name}_contrib", []).append(contrib[off:])
        tr = self._tracker(name, None, k, 0.0, cal.clear_steps, cal.merge_gap_h)
        spans = tr.update(t[n_prev:], score[off:] > cal.threshold, score[off:])
        out = []
        for sp in spans:
            if not self._is_new(sp):
                continue
            j = int(np.searchsorted(gi, sp.raised_i))  # ctx row of the raise
            j0 = max(j - k + 1, lo, int(np.searchsorted(gi, sp.start_i)))
            share = contrib[j0 - lo : j - lo + 1].mean(axis=0)
            top = top_shares(share, scorer.variables)
            exp = {v: float(r.expected[j - lo, jv]) for jv, v in enumerate(scorer.variables)}
            reason = reason_sentence(name, top, raw, j, t[j], exp, self.det.agitation_max)
            out.append(self._event(sp, name, None, cal.threshold, top, reason))
        return out

    def _rules(self, raw, t, gi, n_prev) -> list[AlarmEvent]:
        d = self.det
        results = evaluate_rules(
            raw, d.rules, d.agitation_max, d.consistency, d.profile, d.variables
        )
        out = []
        any_flag = np.zeros(len(t) - n_prev, dtype=bool)
        for rr in results:
            rc = self.det.rules
            tr = self._tracker(
                "rules", rr.name, 1, rr.min_duration_h, rc.clear_steps, rc.merge_gap_h
            )
            flag = rr.flag[n_prev:]
            any_flag |= flag
            for sp in tr.update(t[n_prev:], flag, rr.severity[n_prev:]):
                if not self._is_new(sp):
                    continue
                j = int(np.searchsorted(gi, sp.raised_i))
                why = rr.describe(j, sp.start_h)
                reason = f"{why} [rule {rr.name}, threshold {rr.threshold:g}{rr.threshold_unit}]."
                out.append(
                    self._event(sp, "rules", rr.name, rr.threshold, [(rr.variable, 1.0)], reason)
                )
        if self._hist is not None:
            self._hist.setdefault("rules_flag", []).append(any_flag)
        return out

    # ------------------------------------------------------------------ helpers
    def _tracker(
        self, det: str, rule: str | None, k: int, dur: float, clear: int, gap: float
    ) -> RunTracker:
        key = (det, rule)
        if key not in self._trackers:
            self._trackers[key] = RunTracker(k, dur, clear, gap)
        return self._trackers[key]

    def _is_new(self, sp: Span) -> bool:
        """True for a span seen for the first time; a known one that was reopened (merged)
        is tracked again and its event updated, not raised anew."""
        known = self._event_of.get(id(sp))
        if known is None:
            return True
        if sp.open and not any(s is sp for _, s in self._open):
            self._open.append((known[1], sp))
        return False

    def _event(
        self, sp: Span, det: str, rule: str | None, thr: float, top, reason: str
    ) -> AlarmEvent:
        ev = AlarmEvent(self.batch_id, det, sp.start_h, sp.raised_h, sp.end_h, sp.peak, float(thr),
                        rule, list(top), reason, sp.open)  # fmt: skip
        self._open.append((ev, sp))
        self._event_of[id(sp)] = (sp, ev)  # the span is kept, so its id is never reused
        return ev

    def _sync(self) -> None:
        """Copy the trackers' progress (end, peak, open) into the events."""
        still = []
        for ev, sp in self._open:
            ev.end_h, ev.peak_score, ev.open = sp.end_h, float(sp.peak), sp.open
            if sp.open:
                still.append((ev, sp))
        self._open = still

    def _trim(self) -> None:
        """Keep the rows any later update can look back to (see module docstring)."""
        if self._tail is None or self._trimmed:
            return
        raw, gi = self._tail, self._tail_gi
        t = raw[schema.TIME]
        dt = float(np.median(np.diff(t[-50:]))) if len(t) > 1 else 1.0
        rules = self.det.rules
        scorers = self.det.scorers  # all of them, run or not: the tail is the same
        rows = max(
            max((s.context_rows for s, _ in scorers), default=0)
            + max((c.persistence_steps for _, c in scorers), default=1),
            rules.spike_context_h + rules.spike_return_rows + 2,
        )
        # the settling clocks, and the step scale's rows after a set-point step, need the step
        step = [
            len(x) * s.dt_h for s, _ in scorers if (x := getattr(s, "step_scale", None)) is not None
        ]
        lb = max(lookback_h(rules, dt), 5 * SETTLE_TAU_H, *step) + dt
        first = min(max(0, len(t) - rows), int(np.searchsorted(t, t[-1] - lb)))
        keep = np.zeros(len(t), dtype=bool)
        keep[first:] = True
        for c, x in raw.items():  # last observed row of each variable before the tail (LOCF)
            seen = np.flatnonzero(np.isfinite(x[:first]))
            if seen.size and c != schema.TIME:
                keep[seen[-1]] = True
        self._tail = {c: x[keep] for c, x in raw.items()}
        self._tail_gi = gi[keep]
        self._trimmed = True


_EXTRA = ("do_setpoint_pct", "ph_setpoint", "temperature_setpoint_C", "agitation_rpm",
          "glucose_g_L", "vcd_1e6_cells_mL", "viability_pct", "do_pct", "ph", "temperature_C")  # fmt: skip
