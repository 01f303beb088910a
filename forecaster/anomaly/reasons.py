"""One-sentence reasons for score alarms, built from contributions and the signals.

Example: "DO fell to 12 % at 131 h against a 40 % setpoint while agitation was at its
maximum (DO 71 % of the error, then agitation 18 %)." Set points are read from the
``*_setpoint*`` columns; other variables are compared with the value the model expected
(autoencoder reconstruction or PCA reference trajectory).

Sentences speak the user's language through a :class:`Vocabulary` (their column names and
units, the batch's start date); the default is the process's own labels and units. A caller
passes one (``vocab=``) or sets it around detection with :func:`use_vocabulary`, so code
that builds reasons deep inside the detector needs no extra argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.scores import SETPOINT_OF
from forecaster.data.process import Process, known_variable

_FMT: dict[str, str] = {"ph": ".2f", "temperature_C": ".1f"}
#: Variables where more than expected is good news: the reason says so.
HIGHER_IS_BETTER: tuple[str, ...] = ("titer_mg_L", "vcd_1e6_cells_mL", "viability_pct")


_UNIT_TEXT = {"degC": " C", "degF": " F", "pH": "", "%": " %"}
_UNIT_IN_NAME = re.compile(r"\s*[(\[][^)\]]*[)\]]\s*$")


@dataclass(frozen=True)
class Vocabulary:
    """How reasons name variables, units and times (default: the process's own).

    Attributes:
        names: canonical variable -> the user's column name (``"Temp (degF)"``).
        units: canonical variable -> the unit of the user's column (``"degF"``).
        process: the run's process definition (None: any preset's variables).
        start: the batch's first timestamp as read (times then also as dates), or None.
        time_format: strftime format of the dates (None: ``%Y-%m-%d %H:%M``).
    """

    names: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    process: Process | None = None
    start: pd.Timestamp | None = None
    time_format: str | None = None

    def column(self, var: str) -> str:
        """The user's column name of ``var`` (the canonical name if not mapped)."""
        return self.names.get(var, var)

    def label(self, var: str) -> str:
        """Short name in sentences: the user's column without its unit, else the label."""
        if var in self.names and self.names[var] != var:
            return _UNIT_IN_NAME.sub("", self.names[var]) or self.names[var]
        return known_variable(var, self.process).label or var

    def unit(self, var: str) -> str:
        """The unit values of ``var`` are shown in."""
        return self.units.get(var) or known_variable(var, self.process).unit

    def unit_text(self, var: str) -> str:
        """The unit as it follows a number (``" %"``, ``" C"``, ``""`` for pH)."""
        u = self.unit(var)
        return _UNIT_TEXT.get(u, f" {u}")

    def value(self, var: str, x: float) -> float:
        """A value of ``var`` in its canonical unit -> the shown unit."""
        if var not in self.units or not np.isfinite(x):
            return x
        from forecaster.data.units import to_unit

        return float(to_unit([x], var, self.units[var], self.process)[0])

    def stamp(self, t_h: float) -> str | None:
        """Hours since the batch start -> the user's date/time text (None: no dates)."""
        if self.start is None or not np.isfinite(t_h):
            return None
        when = self.start + pd.Timedelta(hours=float(t_h))
        return when.strftime(self.time_format or "%Y-%m-%d %H:%M")

    def at(self, t_h: float) -> str:
        """``"131 h"``, or ``"131 h (2024-01-13 19:00)"`` when the batch has dates."""
        d = self.stamp(t_h)
        return f"{t_h:.0f} h" + (f" ({d})" if d else "")


_VOCABULARY: ContextVar[Vocabulary | None] = ContextVar("reason_vocabulary", default=None)


@contextmanager
def use_vocabulary(vocab: Vocabulary | None) -> Iterator[None]:
    """Reasons built inside the block (detection) use ``vocab`` unless given another."""
    token = _VOCABULARY.set(vocab)
    try:
        yield
    finally:
        _VOCABULARY.reset(token)


def current_vocabulary(vocab: Vocabulary | None = None) -> Vocabulary:
    """``vocab``, else the one set by :func:`use_vocabulary`, else the default."""
    return vocab or _VOCABULARY.get() or Vocabulary()


def _num(var: str, x: float) -> str:
    fmt = _FMT.get(var)
    if fmt:
        return f"{x:{fmt}}"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def describe_variable(
    var: str,
    raw: dict[str, np.ndarray],
    i: int,
    t_h: float,
    expected: float | None = None,
    agitation_max: float | None = None,
    vocab: Vocabulary | None = None,
) -> str:
    """Clause saying what ``var`` did at row ``i`` (raw units), e.g. "DO fell to 12 % at 131 h".

    Args:
        var: canonical variable.
        raw: column name -> (T,) raw values of the batch (NaN where not measured).
        i: row index; t_h: its time.
        expected: the value the model expected there (raw units), if known.
        agitation_max: highest agitation of the good training batches (rpm).
        vocab: names, units and dates to speak in (default: :func:`current_vocabulary`).
    """
    voc = current_vocabulary(vocab)
    label = voc.label(var)
    x = raw.get(var)
    if x is None:
        return f"{label} deviated at {voc.at(t_h)}"
    xi, when = x[i], f"at {voc.at(t_h)}"
    if not np.isfinite(xi):  # offline assay: say the last measured value
        seen = np.flatnonzero(np.isfinite(x[: i + 1]))
        if not seen.size:
            return f"{label} deviated at {voc.at(t_h)}"
        xi = x[seen[-1]]
        when = f"in the assay at {voc.at(raw[schema.TIME][seen[-1]])}"
    sp_name = SETPOINT_OF.get(var)
    sp = raw.get(sp_name) if sp_name else None
    ref, ref_word = None, ""
    if sp is not None and np.isfinite(sp[i]):
        ref, ref_word = sp[i], "setpoint"
    elif expected is not None and np.isfinite(expected):
        ref, ref_word = expected, "expected"
    u = voc.unit_text(var)
    if ref is None:
        return f"{label} was {_num(var, voc.value(var, xi))}{u} {when}"
    verb = "rose" if xi > ref else "fell"  # compared in the canonical unit (degF keeps order)
    shown, ref_shown = _num(var, voc.value(var, xi)), _num(var, voc.value(var, ref))
    if ref_word == "setpoint":
        s = f"{label} {verb} to {shown}{u} {when} against a {ref_shown}{u} setpoint"
    else:
        s = f"{label} {verb} to {shown}{u} {when} where about {ref_shown}{u} was expected"
        better = var in HIGHER_IS_BETTER or (voc.process is not None and var == voc.process.product)
        if better and xi > ref:
            s += ", better than expected (an unusually good batch rather than a fault, unless other signals say otherwise)"
    agit = raw.get("agitation_rpm")
    if var == "do_pct" and agit is not None and agitation_max and agit[i] >= 0.98 * agitation_max:
        s += f" while {voc.label('agitation_rpm').lower()} was at its maximum"
    return s


def reason_sentence(
    detector: str,
    top: list[tuple[str, float]],
    raw: dict[str, np.ndarray],
    i: int,
    t_h: float,
    expected: dict[str, float] | None = None,
    agitation_max: float | None = None,
    vocab: Vocabulary | None = None,
) -> str:
    """Full sentence for a score alarm from its top contributing variables."""
    voc = current_vocabulary(vocab)
    if not top:
        return f"{detector} score above its threshold at {voc.at(t_h)}"
    var = top[0][0]
    head = describe_variable(var, raw, i, t_h, (expected or {}).get(var), agitation_max, voc)
    parts = [f"{voc.label(v)} {s:.0%}" for v, s in top[:3]]
    shares = parts[0] + (
        " of the error, then " + ", ".join(parts[1:]) if len(parts) > 1 else " of the error"
    )
    return f"{head} ({shares})."
