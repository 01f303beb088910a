"""Incidents: the alarm events of one fault, grouped (one fault, one incident).

A contamination trips the autoencoder, ``do_low``, ``oxygen_demand_rise``, ``ph_out_of_band``
and more, each raising and clearing events over a day: an engineer sees dozens of alarms for
one problem. An **incident** groups the events of one batch, across detectors, whose spans
overlap or lie within ``gap_h`` hours of each other (single linkage on
``[start_h, end_h + gap_h]``). Each event keeps its place underneath (``incident_id``).

The grouping is a pure function of the events, so one-shot detection and a stream give the
same incidents once they have seen the same rows; while a batch runs, an alarm that bridges
two incidents merges the later one into the earlier one (its id then changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forecaster.anomaly.events import AlarmEvent


@dataclass
class Incident:
    """The grouped alarm events of one fault in one batch.

    Attributes:
        incident_id: ``<batch_id>-I<n>``, numbered by start within the batch.
        batch_id: the batch.
        start_h, raised_h, end_h: first start, first raise and last end of its events (h).
        events: its events in order of raising.
    """

    incident_id: str
    batch_id: str
    start_h: float
    raised_h: float
    end_h: float
    events: list[AlarmEvent] = field(default_factory=list)

    @property
    def detectors(self) -> list[str]:
        """Detectors and rules involved, in order of first alarm (``rules:do_low``...)."""
        return list(dict.fromkeys(_who(e) for e in self.events))

    def timeline(self) -> list[str]:
        """One line per event: ``"12 h  rules:do_low  DO fell to ..."``, in raise order."""
        return [f"{e.raised_h:g} h  {_who(e)}  {e.reason}" for e in self.events]

    def to_dict(self) -> dict:
        return {
            "incident_id": self.incident_id, "batch_id": self.batch_id, "start_h": self.start_h,
            "raised_h": self.raised_h, "end_h": self.end_h, "n_events": len(self.events),
            "detectors": self.detectors, "timeline": self.timeline(),
        }  # fmt: skip


def _who(e: AlarmEvent) -> str:
    return f"{e.detector}:{e.rule}" if e.rule else e.detector


def group_incidents(events: list[AlarmEvent], gap_h: float) -> list[Incident]:
    """Incidents of ``events`` (any batches, any detectors), ordered by batch then start.

    Does not touch the events; :func:`assign_incidents` also writes ``incident_id``.
    """
    by_batch: dict[str, list[AlarmEvent]] = {}
    for e in events:
        by_batch.setdefault(e.batch_id, []).append(e)
    out: list[Incident] = []
    for bid in sorted(by_batch):
        groups: list[list[AlarmEvent]] = []
        reach = -float("inf")
        for e in sorted(
            by_batch[bid], key=lambda e: (e.start_h, e.raised_h, e.detector, e.rule or "")
        ):
            if groups and e.start_h <= reach + gap_h:
                groups[-1].append(e)
            else:
                groups.append([e])
                reach = -float("inf")
            reach = max(reach, e.end_h)
        for n, g in enumerate(groups, 1):
            g = sorted(g, key=lambda e: (e.raised_h, e.detector, e.rule or ""))
            out.append(Incident(f"{bid}-I{n}", bid, min(e.start_h for e in g),
                                g[0].raised_h, max(e.end_h for e in g), g))  # fmt: skip
    return out


def assign_incidents(events: list[AlarmEvent], gap_h: float) -> list[Incident]:
    """Group ``events`` into incidents and set each event's ``incident_id``."""
    incs = group_incidents(events, gap_h)
    for inc in incs:
        for e in inc.events:
            e.incident_id = inc.incident_id
    return incs
