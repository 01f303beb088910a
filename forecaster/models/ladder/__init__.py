"""The ladder of harvest-titer forecasters: one interface, naive rungs always beside them.

Lives here: ``protocol`` (the :class:`HarvestRung` protocol, the spread every point rung
carries, assay helpers), ``naive`` (``naive_mean``, ``naive_ratio``, ``naive_slope``),
``ridge`` (ridge regression on the daily log-titer / log-VCD assay history, one model per
origin day; ``ridge_plan`` adds the static values known in advance), ``plan_features`` +
``physics`` (``ridge_physics``: ridge on the assay history, the plan and features that
carry the planned temperature shift's physics) and ``kernel`` (``kernel_plan``: RBF kernel
ridge on the same design), ``summary`` (``ridge_summary``: ridge on static inputs, set
points and signal summaries, for a product measured only at harvest), ``adapters`` (the RF
baseline and the sequence model behind the same interface).

A rung is fitted on complete training batches and predicts the harvest titer (p10, p50,
p90 in mg/L) of each batch from its rows up to the forecast origin (a *prefix*).

May import: ``forecaster.schema``, ``forecaster.data``, ``forecaster.models``. Never imports
``pipeline`` or ``serve``.
"""

from forecaster.models.ladder.kernel import KernelPlan
from forecaster.models.ladder.naive import NaiveMean, NaiveRatio, NaiveSlope
from forecaster.models.ladder.physics import RidgePhysics
from forecaster.models.ladder.protocol import HarvestRung, PointRung
from forecaster.models.ladder.ridge import RidgeHistory, RidgePlan
from forecaster.models.ladder.summary import RidgeSummary

#: rung name -> class of the rungs the ladder fits itself (cheap enough to cross-validate)
CHEAP_RUNGS = {
    "naive_mean": NaiveMean,
    "naive_ratio": NaiveRatio,
    "naive_slope": NaiveSlope,
    "ridge": RidgeHistory,
}
#: names of the naive rungs (always shown; the chosen forecast never does worse)
NAIVE_RUNGS = ("naive_mean", "naive_ratio", "naive_slope")
#: rungs fitted instead of those that need in-run product values, when the product is
#: measured only at harvest (they read the other inputs up to the origin)
HARVEST_ONLY_RUNGS = {"ridge_summary": RidgeSummary}
#: rungs fitted beside the cheap ones when the inputs hold static values known in advance
#: (the planned recipe, start conditions)
STATIC_RUNGS = {"ridge_plan": RidgePlan, "ridge_physics": RidgePhysics, "kernel_plan": KernelPlan}


def rung_from_state_dict(state: dict) -> PointRung:
    """Rebuild a cheap rung from its :meth:`~PointRung.state_dict` (plain values).

    Raises:
        ValueError: ``state["name"]`` is not a cheap rung.
    """
    name = state.get("name")
    known = {**CHEAP_RUNGS, **HARVEST_ONLY_RUNGS, **STATIC_RUNGS}
    if name not in known:
        raise ValueError(f"unknown rung {name!r}; expected one of {sorted(known)}")
    return known[name].from_state_dict(state)


__all__ = [
    "CHEAP_RUNGS",
    "HARVEST_ONLY_RUNGS",
    "NAIVE_RUNGS",
    "HarvestRung",
    "KernelPlan",
    "PointRung",
    "NaiveMean",
    "NaiveRatio",
    "NaiveSlope",
    "RidgeHistory",
    "RidgePhysics",
    "RidgePlan",
    "STATIC_RUNGS",
    "RidgeSummary",
    "rung_from_state_dict",
]
