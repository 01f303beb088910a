"""The ladder of harvest-titer forecasters: one interface, naive rungs always beside them.

Lives here: ``protocol`` (the :class:`HarvestRung` protocol, the spread every point rung
carries, assay helpers), ``naive`` (``naive_mean``, ``naive_ratio``, ``naive_slope``),
``ridge`` (ridge regression on the daily log-titer / log-VCD assay history, one model per
origin day), ``adapters`` (the RF baseline and the sequence model behind the same interface).

A rung is fitted on complete training batches and predicts the harvest titer (p10, p50,
p90 in mg/L) of each batch from its rows up to the forecast origin (a *prefix*).

May import: ``forecaster.schema``, ``forecaster.data``, ``forecaster.models``. Never imports
``pipeline`` or ``serve``.
"""

from forecaster.models.ladder.naive import NaiveMean, NaiveRatio, NaiveSlope
from forecaster.models.ladder.protocol import HarvestRung, PointRung
from forecaster.models.ladder.ridge import RidgeHistory

#: rung name -> class of the rungs the ladder fits itself (cheap enough to cross-validate)
CHEAP_RUNGS = {
    "naive_mean": NaiveMean,
    "naive_ratio": NaiveRatio,
    "naive_slope": NaiveSlope,
    "ridge": RidgeHistory,
}
#: names of the naive rungs (always shown; the chosen forecast never does worse)
NAIVE_RUNGS = ("naive_mean", "naive_ratio", "naive_slope")


def rung_from_state_dict(state: dict) -> PointRung:
    """Rebuild a cheap rung from its :meth:`~PointRung.state_dict` (plain values).

    Raises:
        ValueError: ``state["name"]`` is not a cheap rung.
    """
    name = state.get("name")
    if name not in CHEAP_RUNGS:
        raise ValueError(f"unknown rung {name!r}; expected one of {sorted(CHEAP_RUNGS)}")
    return CHEAP_RUNGS[name].from_state_dict(state)


__all__ = [
    "CHEAP_RUNGS",
    "NAIVE_RUNGS",
    "HarvestRung",
    "PointRung",
    "NaiveMean",
    "NaiveRatio",
    "NaiveSlope",
    "RidgeHistory",
    "rung_from_state_dict",
]
