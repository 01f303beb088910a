"""Attributions of the sequence model (Captum), RF importances, simulator ground truth.

Entry points: :func:`explain_batches` (for predict), :class:`SequenceExplainer` and its
:class:`AttributionResult`; the training run's explain stage uses them.
"""

from forecaster.explain.config import ExplainConfig
from forecaster.explain.explainer import SequenceExplainer, explain_batches, load_baseline
from forecaster.explain.result import AttributionResult, global_importance

__all__ = [
    "AttributionResult",
    "ExplainConfig",
    "SequenceExplainer",
    "explain_batches",
    "global_importance",
    "load_baseline",
]
