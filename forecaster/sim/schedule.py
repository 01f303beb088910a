"""An external feed and temperature-shift schedule that overrides the operator's decisions.

Closed-loop studies drive a simulated batch with decisions made elsewhere (a planner, an
oracle), with the same hidden culture parameters and noise as the default run. The schedule
replaces what the operator policy would decide at each assay decision, before the operator
noise multiplies it (the same execution error in every arm), and may move the temperature
shift. ``None`` entries keep the default behaviour, so a schedule full of NaN reproduces the
default run exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeedSchedule:
    """Feed rates per decision and shift times per batch.

    Attributes:
        feed_mL_h: (n_decisions, n_batches) feed rate (mL/h) decided at assay decision k
            (time ``k * assay_interval_h``), held until the next decision; NaN = the
            operator policy decides. Decisions before the recipe's feed start are ignored
            (feeding starts on the recipe's day).
        shift_h: (n_batches,) time of the temperature shift (h); NaN = the recipe's time;
            ``inf`` = no shift.
    """

    feed_mL_h: np.ndarray
    shift_h: np.ndarray | None = None

    def feed_at(self, decision: int, policy_rate: np.ndarray) -> np.ndarray:
        """(n,) rate at ``decision``: the scheduled one, or ``policy_rate`` where NaN/absent."""
        if decision >= self.feed_mL_h.shape[0]:
            return policy_rate
        ext = self.feed_mL_h[decision]
        return np.where(np.isnan(ext), policy_rate, ext)

    def shift_times(self, recipe_h: np.ndarray) -> np.ndarray:
        """(n,) shift times: the scheduled ones where given, else ``recipe_h``."""
        if self.shift_h is None:
            return recipe_h
        return np.where(np.isnan(self.shift_h), recipe_h, self.shift_h)

    def check(self, n_batches: int) -> None:
        """Raise ValueError if the shapes or values cannot drive ``n_batches`` batches."""
        f = np.asarray(self.feed_mL_h)
        if f.ndim != 2 or f.shape[1] != n_batches:
            raise ValueError(
                f"feed schedule of shape {f.shape}; expected (n_decisions, {n_batches})"
            )
        if np.any(f[~np.isnan(f)] < 0):
            raise ValueError("feed schedule holds a negative feed rate; expected rates >= 0 mL/h")
        if self.shift_h is not None and np.shape(self.shift_h) != (n_batches,):
            raise ValueError(
                f"shift times of shape {np.shape(self.shift_h)}; expected ({n_batches},)"
            )
