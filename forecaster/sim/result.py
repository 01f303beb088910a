"""What ``simulate`` returns, and the state perturbation used for sensitivity analysis."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: Internal states a :class:`Perturbation` can multiply (name -> what it is, unit).
PERTURB_STATES: dict[str, str] = {
    "vcd": "viable cell density, 1e6 cells/mL",
    "dead": "dead cell density, 1e6 cells/mL (lowers viability when factor > 1)",
    "glucose": "glucose, g/L",
    "glutamine": "glutamine, mM",
    "lactate": "lactate, g/L",
    "ammonia": "ammonia, mM",
    "titer": "product titer, mg/L",
    "volume": "culture volume, L (concentrations unchanged, masses scaled)",
}


@dataclass(frozen=True)
class Perturbation:
    """Multiply one internal state by ``factor`` at time ``at_h`` in every batch.

    Applied at the first integration step at or after ``at_h``, before that step's
    readings, assays and feed decision, so the row at ``at_h`` already shows it. Every
    random draw stays the same, so the difference to an unperturbed run is the effect.

    Attributes:
        state: one of ``PERTURB_STATES`` (vcd, dead, glucose, glutamine, lactate, ammonia,
            titer, volume).
        at_h: time of the perturbation (h since inoculation).
        factor: multiplier (e.g. 1.05 for +5 %).
    """

    state: str
    at_h: float
    factor: float

    def __post_init__(self) -> None:
        if not (self.factor >= 0.0 and self.factor < float("inf")):
            raise ValueError(f"perturbation factor {self.factor!r}; expected a finite value >= 0")
        if self.state not in PERTURB_STATES:
            raise ValueError(
                f"unknown perturbation state {self.state!r}; expected one of "
                f"{', '.join(PERTURB_STATES)}"
            )


@dataclass
class SimResult:
    """Simulated batches.

    Attributes:
        table: the batch table (``schema`` columns, labels, ``policy_*`` columns), one row
            per batch per sample time, sorted by batch then time.
        faults: fault table (``schema.FAULT_TABLE_COLUMNS``), one row per injected fault.
        batches: one row per batch: drawn parameters, policy, fault type, balances and the
            noise-free harvest titer ``harvest_titer_true_mg_L``.
        truth: only when asked for (``simulate(..., keep_truth=True)``): noise-free states
            on every row (batch_id, time_h, ``TRUTH_COLUMNS``), for constraint checks.
    """

    table: pd.DataFrame
    faults: pd.DataFrame
    batches: pd.DataFrame
    truth: pd.DataFrame | None = None
