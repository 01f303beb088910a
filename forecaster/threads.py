"""Torch CPU threads: the one place that decides how many.

On a 2-core machine with anything else running, 2 threads run several times slower than 1
(see the README), so commands take a thread count from their config (``trainer.threads``,
``--threads``) and 0 means "the cores this process may use".
"""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):  # Linux; not on macOS or Windows
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def set_threads(n: int) -> int:
    """Set torch's CPU threads to ``n`` (0 or less: :func:`available_cores`); returns it."""
    n = n if n > 0 else available_cores()
    torch.set_num_threads(n)
    return n
