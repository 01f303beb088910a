"""Scorers by name: the built-in ones and any registered by a user or a test.

A new scorer is its scorer file (a class following :class:`~forecaster.anomaly.scorer.Scorer`
with its config dataclass), its config section and one :func:`register_scorer` line.
Saved detectors name their scorers, so a run folder with a scorer that is not registered
is refused on load with a message naming it.
"""

from __future__ import annotations

from forecaster.anomaly.config import SCORER_SECTIONS
from forecaster.anomaly.pca import PCAScorer
from forecaster.anomaly.scorer import Scorer
from forecaster.anomaly.scores import AEScorer

#: Registered scorer classes by name (``AlarmEvent.detector``), in registration order.
SCORERS: dict[str, type] = {}


def register_scorer(cls: type, name: str | None = None) -> type:
    """Register ``cls`` under ``name`` (default ``cls.name``); returns ``cls``.

    Raises:
        ValueError: the name is taken by another class, or is ``rules`` (the rule set).
    """
    name = name or cls.name
    if name == "rules" or (name in SCORERS and SCORERS[name] is not cls):
        raise ValueError(f"scorer name {name!r} is already used by {SCORERS.get(name, 'rules')}")
    for attr in ("label", "config_class", "from_config", "fit", "score", "from_state_dict"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} lacks {attr!r}, required of a Scorer")
    SCORERS[name] = cls
    SCORER_SECTIONS[name] = cls.config_class
    return cls


def scorer_class(name: str) -> type[Scorer]:
    """The class registered as ``name``.

    Raises:
        KeyError: no scorer of that name (the message lists the registered ones).
    """
    if name not in SCORERS:
        raise KeyError(f"no anomaly scorer named {name!r} is registered (known: {list(SCORERS)})")
    return SCORERS[name]


register_scorer(AEScorer)
register_scorer(PCAScorer)
