"""One-sentence reasons for score alarms, built from contributions and the signals.

Example: "DO fell to 12 % at 131 h against a 40 % setpoint while agitation was at its
maximum (DO 71 % of the error, then agitation 18 %)." Set points are read from the
``*_setpoint*`` columns; other variables are compared with the value the model expected
(autoencoder reconstruction or PCA reference trajectory).
"""

from __future__ import annotations

import numpy as np

from forecaster import schema
from forecaster.anomaly.scores import SETPOINT_OF

_FMT: dict[str, str] = {"ph": ".2f", "temperature_C": ".1f"}
#: Variables where more than expected is good news: the reason says so.
HIGHER_IS_BETTER: tuple[str, ...] = ("titer_mg_L", "vcd_1e6_cells_mL", "viability_pct")


def _num(var: str, x: float) -> str:
    fmt = _FMT.get(var)
    if fmt:
        return f"{x:{fmt}}"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def _unit(var: str) -> str:
    u = schema.variable(var).unit
    return {"degC": " C", "pH": "", "%": " %"}.get(u, f" {u}")


def describe_variable(
    var: str,
    raw: dict[str, np.ndarray],
    i: int,
    t_h: float,
    expected: float | None = None,
    agitation_max: float | None = None,
) -> str:
    """Clause saying what ``var`` did at row ``i`` (raw units), e.g. "DO fell to 12 % at 131 h".

    Args:
        var: canonical variable.
        raw: column name -> (T,) raw values of the batch (NaN where not measured).
        i: row index; t_h: its time.
        expected: the value the model expected there (raw units), if known.
        agitation_max: highest agitation of the good training batches (rpm).
    """
    label = schema.variable(var).label
    x = raw.get(var)
    if x is None:
        return f"{label} deviated at {t_h:.0f} h"
    xi, when = x[i], f"at {t_h:.0f} h"
    if not np.isfinite(xi):  # offline assay: say the last measured value
        seen = np.flatnonzero(np.isfinite(x[: i + 1]))
        if not seen.size:
            return f"{label} deviated at {t_h:.0f} h"
        xi = x[seen[-1]]
        when = f"in the assay at {raw[schema.TIME][seen[-1]]:.0f} h"
    sp_name = SETPOINT_OF.get(var)
    sp = raw.get(sp_name) if sp_name else None
    ref, ref_word = None, ""
    if sp is not None and np.isfinite(sp[i]):
        ref, ref_word = sp[i], "setpoint"
    elif expected is not None and np.isfinite(expected):
        ref, ref_word = expected, "expected"
    if ref is None:
        return f"{label} was {_num(var, xi)}{_unit(var)} {when}"
    verb = "rose" if xi > ref else "fell"
    if ref_word == "setpoint":
        s = f"{label} {verb} to {_num(var, xi)}{_unit(var)} {when} against a {_num(var, ref)}{_unit(var)} setpoint"
    else:
        s = f"{label} {verb} to {_num(var, xi)}{_unit(var)} {when} where about {_num(var, ref)}{_unit(var)} was expected"
        if var in HIGHER_IS_BETTER and xi > ref:
            s += ", better than expected (an unusually good batch rather than a fault, unless other signals say otherwise)"
    agit = raw.get("agitation_rpm")
    if var == "do_pct" and agit is not None and agitation_max and agit[i] >= 0.98 * agitation_max:
        s += " while agitation was at its maximum"
    return s


def reason_sentence(
    detector: str,
    top: list[tuple[str, float]],
    raw: dict[str, np.ndarray],
    i: int,
    t_h: float,
    expected: dict[str, float] | None = None,
    agitation_max: float | None = None,
) -> str:
    """Full sentence for a score alarm from its top contributing variables."""
    if not top:
        return f"{detector} score above its threshold at {t_h:.0f} h"
    var = top[0][0]
    head = describe_variable(var, raw, i, t_h, (expected or {}).get(var), agitation_max)
    parts = [f"{schema.variable(v).label} {s:.0%}" for v, s in top[:3]]
    shares = parts[0] + (
        " of the error, then " + ", ".join(parts[1:]) if len(parts) > 1 else " of the error"
    )
    return f"{head} ({shares})."
