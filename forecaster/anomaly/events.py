"""Alarm events: turning a per-step "above threshold" flag into events with persistence.

An alarm is *raised* once the flag has been true for ``min_steps`` consecutive rows (and at
least ``min_duration_h`` hours); the event starts at the first of those rows and ends at
the last flagged row before ``clear_steps`` consecutive unflagged rows. An alarm raised
less than ``merge_gap_h`` hours after the previous event ended reopens that event instead
(one continuing alarm rather than flicker; it keeps its start, raise time and reason). The same
:class:`RunTracker` consumes a whole batch at once or a running batch chunk by chunk, so
one-shot and streaming detection give the same events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class AlarmEvent:
    """One alarm of one detector on one batch.

    Attributes:
        batch_id: the batch.
        detector: ``autoencoder``, ``rules`` or ``pca``.
        start_h: first row of the run of flagged rows (hours since inoculation).
        raised_h: when the alarm was raised (persistence satisfied); delays use this.
        end_h: last flagged row (the current row while the event is open).
        peak_score: highest score in the event (rules: the most extreme reading).
        threshold: the threshold the score was compared with (in the score's units).
        rule: rule name for rule alarms, else None.
        top_variables: ``[(variable, share of the error), ...]`` largest first.
        reason: one plain-language sentence.
        open: the event was still active at the last row seen.
        incident_id: the incident it belongs to (``incidents.py``; events of one fault,
            across detectors, share it), empty until grouped.
    """

    batch_id: str
    detector: str
    start_h: float
    raised_h: float
    end_h: float
    peak_score: float
    threshold: float
    rule: str | None = None
    top_variables: list[tuple[str, float]] = field(default_factory=list)
    reason: str = ""
    open: bool = False
    incident_id: str = ""

    @property
    def key(self) -> tuple[str, str, str | None, float]:
        """Identity of an event (same in one-shot and streaming detection)."""
        return (self.batch_id, self.detector, self.rule, self.raised_h)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["top_variables"] = [[v, float(s)] for v, s in self.top_variables]
        return d


@dataclass
class Span:
    """A raised event in row indices (global within the batch) and hours."""

    start_i: int
    raised_i: int
    end_i: int
    start_h: float
    raised_h: float
    end_h: float
    peak: float
    open: bool


class RunTracker:
    """Incremental persistence / clearing logic over a stream of flags.

    Args:
        min_steps: consecutive flagged rows needed to raise an alarm.
        min_duration_h: hours the flag must have lasted (last - first flagged row) as well.
        clear_steps: consecutive unflagged rows that close a raised event.
        merge_gap_h: a run raised less than this many hours after the last closed event's
            last flagged row reopens that event (0 = never).
    """

    def __init__(
        self,
        min_steps: int = 1,
        min_duration_h: float = 0.0,
        clear_steps: int = 1,
        merge_gap_h: float = 0.0,
    ):
        self.min_steps = max(1, int(min_steps))
        self.min_duration_h = float(min_duration_h)
        self.clear_steps = max(1, int(clear_steps))
        self.merge_gap_h = float(merge_gap_h)
        self._closed: Span | None = None  # the last closed event (may be reopened)
        self.i = 0  # global index of the next row
        self._run_start: tuple[int, float] | None = None  # first row of current flagged run
        self._run_len = 0
        self._run_peak = -np.inf
        self._event: Span | None = None
        self._quiet = 0  # unflagged rows since the event's last flagged row

    def update(self, t: np.ndarray, flag: np.ndarray, score: np.ndarray) -> list[Span]:
        """Consume the next rows; return events raised in them and events closed in them.

        Args:
            t: (n,) hours of the new rows. flag: (n,) bool. score: (n,) float.

        Returns:
            Spans that were raised, reopened or closed during these rows (an open event
            raised here is returned with ``open=True``; when it closes or is reopened later
            it is returned again, the same object).
        """
        flag = np.asarray(flag, dtype=bool)
        out: list[Span] = []
        if not flag.any() and self._event is None and self._run_len == 0:
            self.i += len(flag)  # fast path: nothing going on
            return out
        for k in range(len(flag)):
            i, th, f, s = self.i + k, float(t[k]), bool(flag[k]), float(score[k])
            if f:
                if self._run_len == 0:
                    self._run_start, self._run_peak = (i, th), -np.inf
                self._run_len += 1
                self._run_peak = max(self._run_peak, s)
                if self._event is not None:
                    ev = self._event
                    ev.end_i, ev.end_h, ev.peak, self._quiet = i, th, max(ev.peak, s), 0
                elif (
                    self._run_len >= self.min_steps
                    and th - self._run_start[1] >= self.min_duration_h - 1e-9
                ):
                    i0, t0 = self._run_start
                    last = self._closed
                    if last is not None and t0 - last.end_h < self.merge_gap_h:
                        last.end_i, last.end_h, last.open = i, th, True
                        last.peak = max(last.peak, self._run_peak)
                        self._event = last
                    else:
                        self._event = Span(i0, i, i, t0, th, th, self._run_peak, True)
                    self._closed, self._quiet = None, 0
                    if not any(x is self._event for x in out):
                        out.append(self._event)
            else:
                self._run_len = 0
                if self._event is not None:
                    self._quiet += 1
                    if self._quiet >= self.clear_steps:
                        self._event.open = False
                        if not any(x is self._event for x in out):
                            out.append(self._event)
                        self._closed, self._event = self._event, None
        self.i += len(flag)
        return out


def find_spans(
    t: np.ndarray,
    flag: np.ndarray,
    score: np.ndarray,
    min_steps: int = 1,
    min_duration_h: float = 0.0,
    clear_steps: int = 1,
    merge_gap_h: float = 0.0,
) -> list[Span]:
    """All events of one whole series (rows sorted by time), in order of raising."""
    tracker = RunTracker(min_steps, min_duration_h, clear_steps, merge_gap_h)
    spans = tracker.update(np.asarray(t, float), flag, np.asarray(score, float))
    seen: dict[int, Span] = {}
    for s in spans:
        seen[id(s)] = s
    return sorted(seen.values(), key=lambda s: s.raised_i)


def top_shares(shares: np.ndarray, names: list[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` largest entries of ``shares: (V,)`` as ``[(name, share), ...]``."""
    order = np.argsort(-shares, kind="stable")[:k]
    return [(names[j], round(float(shares[j]), 4)) for j in order if shares[j] > 0]
