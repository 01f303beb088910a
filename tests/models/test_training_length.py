"""Training length from an optimiser-step budget, and the undertrained warning."""

from __future__ import annotations

import math

import pytest

from forecaster.models.training_length import (
    EPOCH_CAP,
    resolve_epochs,
    steps_per_epoch,
    undertrained,
)


@pytest.mark.parametrize(
    ("n", "bs", "limit", "want"),
    [(17, 8, 1.0, 3), (470, 16, 1.0, 30), (1, 16, 1.0, 1), (470, 16, 5, 5), (470, 16, 0.5, 15)],
)
def test_steps_per_epoch(n, bs, limit, want):
    assert steps_per_epoch(n, bs, limit) == want


def test_budget_raises_the_limit_on_small_data_and_leaves_large_data_alone():
    # 17 batches at minibatch 8: 3 steps an epoch; 20 epochs were 60 steps
    small = resolve_epochs(max_epochs=20, min_steps=2000, steps_per_epoch=3, patience=6)
    assert small == math.ceil(2000 / 3) + 6
    assert small * 3 >= 2000
    # 470 batches at minibatch 16: 30 steps an epoch; 80 epochs already give 2400 steps
    assert resolve_epochs(max_epochs=80, min_steps=2000, steps_per_epoch=30, patience=12) == 80
    # no budget: the configured limit
    assert resolve_epochs(max_epochs=7, min_steps=0, steps_per_epoch=1) == 7
    # one batch: capped
    assert resolve_epochs(max_epochs=5, min_steps=10**6, steps_per_epoch=1) == EPOCH_CAP


def test_undertrained_when_the_curve_still_falls_at_the_limit():
    falling = [1.0 / (1 + 0.3 * e) for e in range(20)]
    msg = undertrained(falling, max_epochs=20, stopped_early=False)
    assert msg is not None and "20 epochs" in msg and "trainer.min_steps" in msg


@pytest.mark.parametrize(
    ("curve", "max_epochs", "early"),
    [
        ([1.0 / (1 + 0.3 * e) for e in range(20)], 20, True),  # early stopping ended it
        ([1.0 / (1 + 0.3 * e) for e in range(12)], 20, False),  # did not reach the limit
        ([1.0, 0.5] + [0.4] * 18, 20, False),  # flat for the last epochs
        ([1.0, 0.5, 0.4] + [0.45] * 17, 20, False),  # best epoch long ago
        ([1.0, 0.5] + [0.4 - 1e-5 * e for e in range(18)], 20, False),  # gain below 1 %
        ([float("nan")] * 20, 20, False),
    ],
)
def test_no_warning_when_converged_or_stopped_early(curve, max_epochs, early):
    assert undertrained(curve, max_epochs=max_epochs, stopped_early=early) is None


def test_default_budget_lengthens_small_data_and_leaves_the_default_run_alone():
    budget = 1500  # the trainer.min_steps proposed as the default
    # 17 training batches at batch_size 16: 2 steps an epoch, 20 epochs = 40 steps before.
    small = resolve_epochs(20, budget, steps_per_epoch(17, 16), patience=12)
    assert small * steps_per_epoch(17, 16) >= budget
    # configs/default.yaml: 800 batches (about 640 training), batch_size 16, 80 epochs.
    assert resolve_epochs(80, budget, steps_per_epoch(640, 16), patience=12) == 80


def test_epoch_repeats_fill_an_epoch_only_on_small_data():
    from forecaster.models.training_length import epoch_repeats

    assert epoch_repeats(8, 8) == 8  # one step an epoch -> 8
    assert epoch_repeats(14, 8) == 5  # 70 cuts, 9 steps
    assert epoch_repeats(560, 8) == 1  # 70 steps already
    assert epoch_repeats(64, 8, min_steps_per_epoch=8) == 1
    assert epoch_repeats(0, 8) == 64  # no crash on an empty count
