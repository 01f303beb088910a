"""The planned recipe of each batch, written as static (known-in-advance) columns.

In a plant the feed start, the temperature-shift time and temperature, and the harvest time
are decided before the batch runs; a forecaster may use them as known future inputs (the way
TFT-style models take known covariates). The set-point column ``temperature_setpoint_C``
only shows the shift once it happened; these columns state it from the first row on.

The values are the batch's drawn parameters (after a closed-loop schedule moved the shift:
the plan is what the batch actually runs), so adding them consumes no random draw.
A shift at or after the harvest is no shift in the run: it is written as
``planned_shift_h`` = the planned harvest and a post-shift temperature equal to the pre-shift
one (the set point never changes).
"""

from __future__ import annotations

import numpy as np

from forecaster import schema


def plan_values(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The plan of each batch.

    Args:
        p: drawn batch parameters (:func:`forecaster.sim.params.draw_batch_params`), (n,)
            arrays; ``temperature_shift_h`` may be ``inf`` (a schedule without a shift).

    Returns:
        ``schema.PLAN`` name -> (n,) float array: feed start (h), shift time (h), the
        temperature set point after the shift (degC), harvest time (h).
    """
    harvest = np.asarray(p["run_length_h"], dtype=float)
    shift = np.asarray(p["temperature_shift_h"], dtype=float)
    in_run = shift <= harvest  # False for inf and NaN too
    post = np.where(in_run, p["temperature_post_shift_C"], p["temperature_pre_shift_C"])
    out = {
        "planned_feed_start_h": np.asarray(p["feed_start_h"], dtype=float),
        "planned_shift_h": np.where(in_run, shift, harvest),
        "planned_post_shift_temperature_C": np.asarray(post, dtype=float),
        "planned_harvest_h": harvest,
    }
    return {name: out[name] for name in schema.PLAN}


def plan_rows(p: dict[str, np.ndarray], n_rows: int) -> dict[str, np.ndarray]:
    """:func:`plan_values` repeated on every row: name -> (n_rows, n) float array."""
    return {
        name: np.broadcast_to(v[None, :], (n_rows, v.size)).copy()
        for name, v in plan_values(p).items()
    }
