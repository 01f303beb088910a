"""Split-conformal intervals of the harvest titer, per forecast-origin day, in log space.

The score of a calibration forecast is ``|log(y / p50)|`` (y: measured harvest titer,
p50: the forecast made at that origin day, both mg/L), so intervals are multiplicative:
``[p50 / exp(q), p50 * exp(q)]``. With n exchangeable calibration scores the interval
covers a new batch with probability >= ``level`` when q is the ``ceil((n + 1) * level)``-th
smallest score (the finite-sample correction). That rank exists only while
``n >= level / (1 - level)``, i.e. ``n >= 4`` for 80 %, 9 for 90 %, 19 for 95 %; below it
no finite interval keeps the promise: the level is marked unmet (``q = inf``, interval
``(0, inf)``) and :attr:`ConformalCalibration.notes` says so.

Example:
    >>> cal = ConformalCalibration.fit({"7": np.log(y_oof / p50_oof)})
    >>> lo, hi = cal.interval(p50_test, "7", 0.9)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: nominal coverage levels of the intervals
LEVELS: tuple[float, ...] = (0.8, 0.9, 0.95)


def min_residuals(level: float) -> int:
    """Fewest calibration scores for which a finite ``level`` interval exists."""
    return math.ceil(level / (1.0 - level) - 1e-9)


def conformal_quantile(scores: Sequence[float] | np.ndarray, level: float) -> float:
    """The split-conformal quantile of ``scores`` at ``level``.

    Args:
        scores: ``(n,)`` non-negative calibration scores (NaN ignored).
        level: nominal coverage in (0, 1).

    Returns:
        The ``ceil((n + 1) * level)``-th smallest score; ``inf`` when that rank exceeds n
        (``n < level / (1 - level)``: the level cannot be met).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    s = np.sort(np.asarray(scores, dtype=float))
    s = s[np.isfinite(s)]
    rank = math.ceil((s.size + 1) * level - 1e-9)
    return float(s[rank - 1]) if rank <= s.size else float("inf")


class ConformalCalibration:
    """Per-day, per-level log-space half-widths fitted on out-of-sample residuals.

    Attributes:
        levels: nominal coverage levels.
        q: ``{day: {level: half-width q}}`` (``inf`` where the level cannot be met).
        n: ``{day: number of calibration residuals}``.
        notes: one line per (day, level) that cannot be met.
    """

    def __init__(self, levels: Sequence[float] = LEVELS) -> None:
        self.levels = tuple(float(x) for x in levels)
        self.q: dict[str, dict[float, float]] = {}
        self.n: dict[str, int] = {}
        self.notes: list[str] = []

    @classmethod
    def fit(
        cls, log_residuals: Mapping[str, Sequence[float] | np.ndarray], levels=LEVELS
    ) -> ConformalCalibration:
        """Calibrate on ``{day: (n,) log(y / p50)}`` out-of-sample residuals."""
        cal = cls(levels)
        for day, r in log_residuals.items():
            s = np.abs(np.asarray(r, dtype=float))
            s = s[np.isfinite(s)]
            day = str(day)
            cal.n[day] = int(s.size)
            cal.q[day] = {lv: conformal_quantile(s, lv) for lv in cal.levels}
            for lv in cal.levels:
                if not np.isfinite(cal.q[day][lv]):
                    cal.notes.append(
                        f"day {day}: {s.size} out-of-sample residuals cannot support a "
                        f"{lv:.0%} interval (needs at least {min_residuals(lv)})"
                    )
        return cal

    def met(self, day: str, level: float) -> bool:
        """Whether a finite ``level`` interval exists for ``day``."""
        return bool(np.isfinite(self.q.get(str(day), {}).get(float(level), np.inf)))

    def interval(self, p50: np.ndarray, day: str, level: float) -> tuple[np.ndarray, np.ndarray]:
        """``(lo (n,), hi (n,))`` in mg/L around ``p50 (n,)`` mg/L; ``(0, inf)`` if unmet."""
        p50 = np.asarray(p50, dtype=float)
        q = self.q.get(str(day), {}).get(float(level), np.inf)
        if not np.isfinite(q):
            return np.zeros_like(p50), np.full_like(p50, np.inf)
        return p50 * np.exp(-q), p50 * np.exp(q)

    def score(self, y: np.ndarray, p50: np.ndarray, day: str) -> dict[str, dict[str, float]]:
        """Coverage (fraction of ``y`` inside) and mean width in % of p50, by level.

        Returns:
            ``{"coverage": {level: value}, "width_pct": {level: value}}`` (level as
            ``"80"``, ``"90"``, ``"95"``); NaN for an unmet level or no batches.
        """
        y, p50 = np.asarray(y, dtype=float), np.asarray(p50, dtype=float)
        out: dict[str, dict[str, float]] = {"coverage": {}, "width_pct": {}}
        for lv in self.levels:
            key = level_key(lv)
            if not self.met(day, lv) or y.size == 0:
                out["coverage"][key] = out["width_pct"][key] = float("nan")
                continue
            lo, hi = self.interval(p50, day, lv)
            out["coverage"][key] = float(np.mean((lo <= y) & (y <= hi)))
            out["width_pct"][key] = float(100.0 * np.mean((hi - lo) / p50))
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready: an unmet level's half-width is None)."""
        return {
            "levels": list(self.levels),
            "n": dict(self.n),
            "q": {
                d: {level_key(lv): (v if np.isfinite(v) else None) for lv, v in qs.items()}
                for d, qs in self.q.items()
            },
            "notes": list(self.notes),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> ConformalCalibration:
        """Inverse of :meth:`state_dict`."""
        cal = cls(state["levels"])
        cal.n = {str(d): int(v) for d, v in state["n"].items()}
        cal.q = {
            str(d): {
                lv: (float("inf") if qs[level_key(lv)] is None else float(qs[level_key(lv)]))
                for lv in cal.levels
            }
            for d, qs in state["q"].items()
        }
        cal.notes = list(state["notes"])
        return cal


def level_key(level: float) -> str:
    """``0.9`` -> ``"90"``: the key of a level in metrics."""
    return f"{100.0 * level:g}"
