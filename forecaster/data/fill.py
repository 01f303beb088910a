"""Carry the last reading forward: the one implementation every module uses.

Online signals and assays arrive on their own cadence; between readings a model, a rule or
a plot sees the last value read. What a row *before the first reading* holds differs by
use, so the caller says it explicitly with ``before_first``:

- ``0.0`` for a standardised model feature: the training mean;
- ``nan`` (the default): nothing known yet (tabular features, rules, plots).
"""

from __future__ import annotations

import numpy as np


def last_index(x: np.ndarray) -> np.ndarray:
    """Index of the last finite value at or before each row, along axis 0; -1 before any.

    Args:
        x: ``(T,)`` or ``(T, V)`` values, NaN where nothing was read.

    Returns:
        Integer array of ``x``'s shape.
    """
    rows = np.arange(x.shape[0]).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.maximum.accumulate(np.where(np.isfinite(x), rows, -1), axis=0)


def carry_forward(x: np.ndarray, before_first: float = np.nan) -> np.ndarray:
    """Last finite value carried forward down axis 0.

    Args:
        x: ``(T,)`` or ``(T, V)`` float values, NaN where nothing was read.
        before_first: what rows before the first reading hold (see the module docstring).

    Returns:
        Float array of ``x``'s shape; ``x`` itself when every value is finite.
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0 or np.isfinite(x).all():
        return x
    last = last_index(x)
    safe = np.clip(last, 0, None)
    vals = x[safe] if x.ndim == 1 else np.take_along_axis(x, safe, axis=0)
    return np.where(last >= 0, vals, float(before_first))
