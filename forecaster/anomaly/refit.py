"""Re-fitting only the rule set of a trained detector (its scorers are kept as they are).

What the rules learn on the fault-free training batches (the controller-consistency model,
the highest normal agitation, the :class:`~forecaster.anomaly.rule_profile.RuleProfile`)
takes seconds to fit, where the autoencoder takes minutes. When the rule code gains a check
or changes how a limit is learned, :func:`refit_rules` brings a saved detector up to date on
the same training batches without touching its scorers or their calibrations.

Example::

    det = AnomalyDetector.load("checkpoints/default")
    det = refit_rules(det, train_rows)  # the run's fault-free training batches
    det.save("checkpoints/mine/anomaly")
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import fit_consistency
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.rule_profile import fit_rule_profile
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.anomaly.rules import evaluate_rules


def refit_rules(
    det: AnomalyDetector,
    train: pd.DataFrame,
    rules: RulesConfig | None = None,
    heldout: pd.DataFrame | None = None,
) -> AnomalyDetector:
    """A copy of ``det`` whose rule set is fitted again on ``train``.

    Args:
        det: a trained detector (its scorers, calibrations and preprocessing are kept).
        train: rows of the fault-free training batches (with ``batch_id`` and ``time_h``),
            the batches the detector was trained on.
        rules: rule settings (None: the detector's own, with defaults for settings added
            since it was saved).
        heldout: rows of further normal batches whose firing shares are measured only.

    Returns:
        A new detector; ``det`` is unchanged.

    Raises:
        ValueError: ``train`` lacks ``batch_id`` or ``time_h``, or holds no rows.
    """
    missing = [c for c in (schema.BATCH_ID, schema.TIME) if c not in train.columns]
    if missing or train.empty:
        raise ValueError(
            f"refit_rules needs the training rows with columns {missing or [schema.BATCH_ID, schema.TIME]} "
            f"(got {len(train)} rows with columns {list(train.columns)[:8]}...)"
        )
    cfg = rules or det.rules
    rv = det.variables or RuleVariables.cho()
    batches = _batches(train)
    agitation = rv.column("agitation_rpm")
    agitation_max = max(
        (float(np.nanmax(b[agitation])) for b in batches if agitation in b), default=None
    )
    views = [pd.DataFrame(rv.view(b)) for b in batches]
    cons = fit_consistency(views, cfg) if cfg.consistency else None
    profile = fit_rule_profile(
        batches,
        cfg,
        lambda rows, p: evaluate_rules(rows, cfg, agitation_max, cons, p, rv),
        rv,
        None,
        _batches(heldout) if heldout is not None and len(heldout) else [],
    )
    return replace(det, rules=cfg, consistency=cons, agitation_max=agitation_max, profile=profile)


def _batches(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """One frame per batch, sorted by time, in batch-id order."""
    return [
        g.sort_values(schema.TIME, kind="stable").reset_index(drop=True)
        for _, g in rows.groupby(schema.BATCH_ID, sort=True)
    ]
