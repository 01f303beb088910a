"""Saved preprocessing states: migration to the current format and the process facts
(roles, ranges, units, labels) a state records.

Format 1 states (before roles were recorded) were fitted on CHO runs; format 2
(:data:`PREP_FORMAT`) records each input's role, range, unit and label and the names of the
product and the feed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from forecaster.data.errors import ConfigError
from forecaster.data.process import Process, ProcessVariable, default_process

#: format of ``Preprocessor.state_dict`` (1: no roles / ranges / product / feed)
PREP_FORMAT = 2


def upgrade_prep_state(state: Mapping) -> dict:
    """Any saved preprocessing state -> the current format (:data:`PREP_FORMAT`).

    States saved before log inputs and assay history existed get what they were fitted
    without (no log inputs, offset 1, no history). Format-1 states (no roles, ranges,
    product or feed) were fitted on CHO runs: the CHO preset's roles and ranges, titer and
    feed rate. Called on every load (and by the migrations of the files that hold one).
    """
    defaults = {"log_variables": [], "log_offset": 1.0, "history_variables": [], "history_lags": 0}
    out = {**defaults, **state}
    if int(out.get("format_version", 1)) < 2:
        cho = default_process()
        declared = {v: cho.variable(v) for v in out["variables"]}
        out["roles"] = {v: str(pv.role) for v, pv in declared.items()}
        out["ranges"] = {v: bounds(pv.lo, pv.hi) for v, pv in declared.items()}
        out["product"], out["feed"] = cho.product, cho.feed
        out["units"] = described(cho, out["variables"], "unit")
        out["labels"] = described(cho, out["variables"], "label")
    out["format_version"] = PREP_FORMAT
    return out


class UnknownVariableError(ConfigError, KeyError):
    """An input that the process does not declare (also a KeyError, as schema lookups)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ConfigError.__str__(self)


def declared(process: Process, variables: Sequence[str]) -> dict[str, ProcessVariable]:
    """Each input's definition in ``process``.

    Raises:
        UnknownVariableError: an input the process lacks, naming the closest one.
    """
    out = {}
    for v in variables:
        try:
            out[v] = process.variable(v)
        except ConfigError as err:
            raise UnknownVariableError(str(err)) from None
    return out


def described(process: Process, variables: Sequence[str], what: str) -> dict[str, str]:
    """``unit`` or ``label`` of each input, the product and the feed of ``process``."""
    named = [*variables, process.product, *([process.feed] if process.feed else [])]
    return {v: str(getattr(process.variable(v), what)) for v in dict.fromkeys(named)}


def bounds(lo: float, hi: float) -> list[float | None]:
    """A range as plain values (infinite bounds as None)."""
    return [None if np.isinf(lo) else float(lo), None if np.isinf(hi) else float(hi)]
