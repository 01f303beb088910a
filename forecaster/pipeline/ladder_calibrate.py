"""The out-of-sample forecasts the chosen forecast's conformal intervals are calibrated on.

A split-conformal interval covers a new batch with probability >= its level when its
calibration residuals are exchangeable with the new batch's. The ladder's choice is
selected on the same out-of-sample forecasts it would be calibrated on: the rung (or blend,
with weights fitted there) with the lowest error on those batches has, on them, errors
smaller than it will have on new batches, so intervals calibrated on them under-cover; the
fewer the batches, the larger the gap (tens of batches: coverage 65-70 % at a nominal 80 %).

Here each calibration batch is forecast by a choice made *without* it, by the same
selection procedure (:func:`forecaster.pipeline.ladder_select.choose`):

- a choice made on the cross-validated forecasts (stage 1): for each fold, the choice made
  on the out-of-fold forecasts of the other folds' batches forecasts that fold's batches
  (:func:`cross_selected`);
- a choice made on the validation batches (stage 2): each validation batch is forecast by
  the choice made on the other validation batches and the other batches' out-of-fold
  forecasts (leave one batch out, :func:`loo_selected`).

So the residuals carry the selection's own variability, as the forecasts of new batches
will. A choice made on fewer validation batches than the highest level needs (19 for 95 %)
is calibrated on those pooled with the cross-selected forecasts of the other batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forecaster.models.conformal import min_residuals
from forecaster.pipeline.ladder_select import Choice, Forecasts, choose, combine

__all__ = ["calibration_set", "cross_selected", "loo_selected"]


def _without(parts: dict[str, Forecasts], ids) -> dict[str, Forecasts]:
    """Each rung's forecasts of the batches not in ``ids``."""
    drop = set(map(str, ids))
    return {n: f.on([b for b in f.ids.astype(str) if b not in drop]) for n, f in parts.items()}


def _only(parts: dict[str, Forecasts], ids) -> dict[str, Forecasts]:
    """Each rung's forecasts of the batches in ``ids``."""
    return {n: f.on(ids) for n, f in parts.items()}


def cross_selected(cheap: dict[str, Forecasts], naive: tuple[str, ...]) -> Forecasts:
    """Out-of-fold forecasts of the cross-validated choice, each fold's batches forecast by
    the choice made on the other folds' out-of-fold forecasts.

    Args:
        cheap: ``{rung: out-of-fold Forecasts}`` at one origin day (folds in ``fold``).
        naive: the naive rungs' names (as :func:`choose` takes them).

    Returns:
        Forecasts of every batch some rung forecasts, sorted by batch id; a fold whose
        complement has no forecasts is left out.
    """
    folds = sorted({int(f) for p in cheap.values() for f in np.unique(p.fold)})
    out = Forecasts()
    for f in folds:
        inside = sorted({str(b) for p in cheap.values() for b in p.ids[p.fold == f]})
        rest = _without(cheap, inside)
        if not any(p.n for p in rest.values()):
            continue
        c = choose(rest, {}, naive, [])
        part = combine(_only(cheap, inside), c.weights)
        out.add(part.ids, part.y, part.p, f)
    return out.sorted()


def loo_selected(
    cheap: dict[str, Forecasts],
    expensive: dict[str, Forecasts],
    naive: tuple[str, ...],
    val_ids: Sequence[str],
) -> Forecasts:
    """Forecasts of the validation batches, each by the two-stage choice made without it.

    Args:
        cheap: ``{rung: out-of-fold Forecasts}`` over train + val at one origin day.
        expensive: ``{rung: Forecasts}`` of the validation batches (RF, sequence).
        naive: the naive rungs' names.
        val_ids: the validation batches.

    Returns:
        Forecasts of the validation batches that every rung of their choice forecasts.
    """
    out = Forecasts()
    for b in map(str, val_ids):
        others = [v for v in map(str, val_ids) if v != b]
        c = choose(_without(cheap, [b]), _without(expensive, [b]), naive, others)
        parts = {n: (cheap[n] if n in cheap else expensive[n]).on([b]) for n in c.weights}
        if any(p.n == 0 for p in parts.values()):
            continue
        f = combine(parts, c.weights)
        out.add(f.ids, f.y, f.p, -1)
    return out.sorted()


def calibration_set(
    c: Choice,
    cheap: dict[str, Forecasts],
    naive: tuple[str, ...],
    val_ids: Sequence[str],
    levels: Sequence[float],
    expensive: dict[str, Forecasts] | None = None,
) -> tuple[Forecasts, str]:
    """Out-of-sample forecasts the choice ``c`` is calibrated on, and a note for the report.

    Args:
        c: the choice at one origin day (stage 1, ``on == "cv"``, or 2, ``"val"``).
        cheap: ``{rung: out-of-fold Forecasts}`` at that day.
        naive: the naive rungs' names.
        val_ids: the validation batches.
        levels: the nominal levels (the highest decides how many batches are enough).
        expensive: ``{rung: Forecasts}`` of the validation batches; None: a stage-2 choice
            is calibrated on its own validation forecasts (no leave-one-out).

    Returns:
        ``(forecasts, note)``; the note is empty unless batches were pooled.
    """
    need = max(min_residuals(lv) for lv in levels)
    if c.on != "val":
        return cross_selected(cheap, naive), ""
    own = c.oos if expensive is None else loo_selected(cheap, expensive, naive, val_ids)
    if own.n >= need:
        return own, ""
    held = set(map(str, val_ids))
    rest_all = cross_selected(cheap, naive)
    rest = rest_all.on([b for b in rest_all.ids.astype(str) if b not in held])
    pooled = Forecasts()
    pooled.add(own.ids, own.y, own.p, -1)
    pooled.add(rest.ids, rest.y, rest.p, 0)
    return pooled, (
        f"intervals calibrated on the {own.n} validation batches the choice was made on "
        f"pooled with {rest.n} cross-validated forecasts of the other batches (fewer than "
        f"{need})"
    )
