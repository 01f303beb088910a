"""Raising titer across batches: key factors, recipe recommendations, feed plans.

Library package (imports data/, sim/ and models; never pipeline/ or serve/):

- factors: batch-level factors from a batch table (recipe, start, early culture) and the
  harvest titer (:func:`extract_factors`, :class:`BatchFactors`, :class:`Factor`).
- batch_model: the batch-level titer model (ridge on factors and squares, plain state).
- importance / key_factors: rankings by permutation importance and PLS VIP with bootstrap
  intervals, effect curves (:func:`key_factors`, :class:`KeyFactors`).
- recommend: the recipe within bounds that maximises predicted titer, Optuna TPE over a
  bootstrap ensemble (:func:`recommend`, :class:`Recommendation`).
- plots: the figures of ``forecaster optimize``.
- feed_plan (+ feed_plan_data, feed_plan_search, mechanistic): in-batch feed plans.
"""

from forecaster.optimize.batch_model import TiterModel
from forecaster.optimize.factors import BatchFactors, Factor, extract_factors
from forecaster.optimize.feed_plan import (
    FeedConstraints,
    FeedPlan,
    FeedPlanner,
    MechanisticPlanner,
    Recipe,
    plan_feeds,
)
from forecaster.optimize.importance import METHODS, rank_factors
from forecaster.optimize.key_factors import KeyFactors, key_factors
from forecaster.optimize.recommend import Prediction, Recommendation, TiterEnsemble, recommend

__all__ = [
    "FeedConstraints",
    "FeedPlan",
    "FeedPlanner",
    "MechanisticPlanner",
    "Recipe",
    "plan_feeds",
    "METHODS",
    "BatchFactors",
    "Factor",
    "KeyFactors",
    "Prediction",
    "Recommendation",
    "TiterEnsemble",
    "TiterModel",
    "extract_factors",
    "key_factors",
    "rank_factors",
    "recommend",
]
