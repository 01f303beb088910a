"""How long the forecaster trains: an optimiser-step budget, and a check for undertraining.

A fixed epoch count means very different training on 17 batches (two minibatches an epoch)
and on 500 (thirty). :func:`resolve_epochs` turns a budget of optimiser steps into the epoch
limit for the data at hand; early stopping on the validation batches still ends training
sooner. :func:`undertrained` reads the validation-loss curve afterwards and says, in plain
words, when training hit its limit while the loss was still falling.

Example:
    >>> resolve_epochs(max_epochs=20, min_steps=2000, steps_per_epoch=2, patience=6)
    1006
    >>> undertrained([1.0, 0.8, 0.6, 0.5, 0.4, 0.33], max_epochs=6, stopped_early=False) is None
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["epoch_repeats", "resolve_epochs", "undertrained", "steps_per_epoch"]

#: An epoch limit above this is not raised further by the step budget (a safety net for
#: a data set of one or two batches).
EPOCH_CAP = 3000


def steps_per_epoch(n_items: int, batch_size: int, limit_train_batches: float | int = 1.0) -> int:
    """Optimiser steps in one epoch of ``n_items`` training batches (runs) at ``batch_size``.

    ``limit_train_batches`` is Lightning's setting (a fraction, or a count when an int > 1).
    """
    steps = max(1, math.ceil(max(int(n_items), 1) / max(int(batch_size), 1)))
    if isinstance(limit_train_batches, int) and limit_train_batches > 1:
        return min(steps, limit_train_batches)
    if isinstance(limit_train_batches, float) and limit_train_batches < 1.0:
        return max(1, int(steps * limit_train_batches))
    return steps


def epoch_repeats(n_items: int, batch_size: int, min_steps_per_epoch: int = 8) -> int:
    """How often each training batch (run) appears per epoch to give ``min_steps_per_epoch``.

    Eight runs at a batch size of 8 make one optimiser step an epoch: a step budget of 250
    would be 250 epochs, each with its validation pass and loop overhead (about 1 s on
    2 cores against 0.06 s for the step). Repeating each run (cut at a new prefix every
    time) makes the epoch ``min_steps_per_epoch`` steps long, so the same budget is about
    30 epochs. Returns 1 when the data already fill that many steps.

    Example:
        >>> epoch_repeats(8, 8), epoch_repeats(14, 8), epoch_repeats(560, 8)
        (8, 5, 1)
    """
    n, b = max(int(n_items), 1), max(int(batch_size), 1)
    return (
        max(1, math.ceil(min_steps_per_epoch * b / n))
        if math.ceil(n / b) < min_steps_per_epoch
        else 1
    )


def resolve_epochs(max_epochs: int, min_steps: int, steps_per_epoch: int, patience: int = 0) -> int:
    """Epoch limit that gives at least ``min_steps`` optimiser steps (plus early-stopping room).

    Args:
        max_epochs: the configured limit (``trainer.max_epochs``); never lowered.
        min_steps: optimiser-step budget (``trainer.min_steps``; 0 = the limit is
            ``max_epochs`` as configured).
        steps_per_epoch: optimiser steps per epoch on this data (:func:`steps_per_epoch`).
        patience: early-stopping patience (epochs), added so early stopping can still act
            after the budget is reached.

    Returns:
        ``max(max_epochs, ceil(min_steps / steps_per_epoch) + patience)``, at most
        :data:`EPOCH_CAP` unless ``max_epochs`` itself is larger.
    """
    if min_steps <= 0:
        return int(max_epochs)
    need = math.ceil(min_steps / max(int(steps_per_epoch), 1)) + max(int(patience), 0)
    return int(max(max_epochs, min(need, EPOCH_CAP)))


def undertrained(
    val_loss: Sequence[float],
    max_epochs: int,
    stopped_early: bool,
    window: int = 5,
    min_gain: float = 0.01,
) -> str | None:
    """A plain-language warning when training stopped at its limit while still improving.

    Args:
        val_loss: validation loss after each epoch, in order (NaN epochs are ignored).
        max_epochs: the epoch limit the run had.
        stopped_early: early stopping ended training (then it was not cut short).
        window: epochs over which the recent improvement is measured.
        min_gain: relative improvement of the best loss over the last ``window`` epochs that
            counts as "still improving" (0.01 = 1 %).

    Returns:
        None when training converged or was ended by early stopping; otherwise one sentence
        with the measured improvement and the config keys that give more training.
    """
    losses = [float(v) for v in val_loss if v == v and math.isfinite(float(v))]
    if stopped_early or len(losses) < 2 or len(losses) < max_epochs:
        return None
    w = min(window, len(losses) - 1)
    before = min(losses[:-w])
    after = min(losses[-w:])
    if before <= 0 or after >= before:
        return None
    gain = (before - after) / abs(before)
    best_epoch = losses.index(min(losses))
    if gain < min_gain or best_epoch < len(losses) - w:
        return None
    return (
        f"the forecaster stopped at its limit of {max_epochs} epochs while its validation "
        f"loss was still falling ({100 * gain:.1f} % lower over the last {w} epochs): it is "
        "probably undertrained; raise trainer.min_steps (optimiser steps) or trainer.max_epochs"
    )
