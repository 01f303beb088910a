"""One multi-panel PNG per predicted batch (what a process engineer looks at first).

Panels, x axis in culture days: VCD and viability; glucose and lactate; DO and pH;
temperature and its set point; feed given and recommended; titer measured with the fitted
(days behind) and forecast (days ahead) trajectory, its 80 % band and the harvest forecast,
which is the trajectory's last point and the ``predictions.csv`` number. Quantities of
different scale sit on their own y axis (right axis for the second one), every axis is
labelled with its unit, and legends sit under their panel so they never cover data. Alarm
windows are shaded on every panel, numbered, and their reasons listed under the panels. Uses ``matplotlib.figure.Figure`` directly (no
pyplot state), so thousands of figures do not accumulate in memory.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from forecaster import schema
from forecaster.anomaly.plots import detector_color
from forecaster.models.decode import QuantilePick, daily_trajectory

_MAX_REASONS = 8


def _col(rows: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in rows.columns:
        return None
    v = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
    return v if np.isfinite(v).any() else None


def _line(ax, d, y, fmt, label, **kw) -> bool:
    if y is None:
        return False
    ok = np.isfinite(y)
    ax.plot(d[ok], y[ok], fmt, label=label, **kw)
    return True


def _legend_below(ax, *twins) -> None:
    """One legend for ``ax`` and its twin axes, under the panel (never over the data)."""
    handles, labels = [], []
    for a in (ax, *twins):
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=min(len(handles), 4), frameon=False)  # fmt: skip


def _user_units(display, rows: pd.DataFrame, steps: dict) -> tuple[pd.DataFrame, dict]:
    """Rows and forecasts in the units of the user's columns (unchanged without a map)."""
    units = display.column_map.units
    rows = rows.copy()
    for col in [c for c in rows.columns if c in units]:
        rows[col] = display.convert(col, pd.to_numeric(rows[col], errors="coerce"))
    steps = dict(steps)
    feed, product = display.process.feed, display.product
    if feed in units:
        steps["feed"] = display.convert(feed, steps["feed"])
    if product in units:
        for key in ("trajectory", "harvest"):
            steps[key] = display.convert(product, steps[key])
    return rows, steps


def _label(display, var: str, text: str, unit: str) -> str:
    """Axis label: today's wording, or the user's column and unit when they differ."""
    if display is None or (display.column(var) == var and var not in display.column_map.units):
        return f"{text} ({unit})"
    name, u = display.column(var), display.unit(var)
    return name if u and u in name else f"{name} ({u})"


def _twin_panel(ax, d, rows, display, left: tuple, right: tuple, title: str) -> None:
    """Two quantities of different scale on one panel: ``left`` on the left axis, ``right`` on
    a twin axis; each ``(column, style, label, unit, colour)``."""
    sides = [(ax, left)] + ([(ax.twinx(), right)] if right[0] else [])  # a process with
    for axis, (col, style, label, unit, color) in sides:  # fewer signals leaves sides empty
        if not col:
            ax.text(0.5, 0.5, "no further signals", transform=ax.transAxes, ha="center",
                    va="center", color="gray")  # fmt: skip
            continue
        _line(axis, d, _col(rows, col), style, label, color=color, ms=3)
        axis.set_ylabel(_label(display, col, label, unit), color=color)
    if left[0]:
        _legend_below(*[a for a, _ in sides])
    ax.set_title(title)


def dashboard_figure(
    rows: pd.DataFrame, steps: dict, events: list, quantiles: list[float], display=None
) -> Figure:
    """Build the dashboard of one batch.

    Args:
        rows: the batch's rows (canonical columns, time-sorted).
        steps: forecaster per-step outputs: ``time_h (T,)``, ``feed (T,)`` mL/h,
            ``trajectory (T, D, Q)`` mg/L.
        events: the batch's ``AlarmEvent`` objects.
        quantiles: the model's quantiles (Q,), containing 0.5.
        display: :class:`~forecaster.serve.display.OutputNames`: values, axis labels and
            the start date in the user's columns and units (None: canonical).

    Returns:
        A matplotlib Figure (3 x 2 panels plus the list of alarm reasons).
    """
    bid = str(rows[schema.BATCH_ID].iloc[0])
    started = ""
    if display is not None:
        rows, steps = _user_units(display, rows, steps)
        stamp = display.stamps([bid], [0.0])[0]
        started = f" (started {stamp})" if stamp else ""
    d = rows[schema.TIME].to_numpy(dtype=float) / 24.0
    n_ev = min(len(events), _MAX_REASONS)
    fig = Figure(figsize=(12, 9.5 + 0.28 * (n_ev + (len(events) > n_ev))), layout="constrained")
    gs = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1, 0.12 + 0.09 * max(n_ev, 1)])
    axes = [fig.add_subplot(gs[i // 2, i % 2]) for i in range(6)]
    fig.suptitle(
        f"Batch {bid}{started}: day {d[-1]:.1f}, {len(rows)} rows, "
        f"{len(events)} alarm(s) in {len({e.incident_id for e in events})} incident(s)"
    )

    for ax, (left, right, title) in zip(axes[:2], _assay_panels(display, rows)):
        _twin_panel(ax, d, rows, display, left, right, title)

    ax = axes[2]
    do, do_sp, do_unit = _do_columns(display)
    _line(ax, d, _col(rows, do), "-", "DO", color="tab:cyan", lw=1)
    _line(ax, d, _col(rows, do_sp), ":", "DO set point", color="tab:cyan", lw=1)
    if do:
        ax.set_ylabel(_label(display, do, "DO", do_unit), color="tab:cyan")
    else:
        ax.set_yticks([])
    ax2 = ax.twinx()
    _line(ax2, d, _col(rows, "ph"), "-", "pH", color="tab:purple", lw=1)
    _line(ax2, d, _col(rows, "ph_setpoint"), ":", "pH set point", color="tab:purple", lw=1)
    ax2.set_ylabel(_label(display, "ph", "pH", "-"), color="tab:purple")
    ax.set_title("DO (left) and pH (right)" if do else "pH")
    _legend_below(ax, ax2)

    ax = axes[3]
    _line(ax, d, _col(rows, "temperature_C"), "-", "temperature", color="tab:red", lw=1)
    _line(ax, d, _col(rows, "temperature_setpoint_C"), ":", "set point", color="k", lw=1)
    ax.set_ylabel(_label(display, "temperature_C", "temperature", "degC"))
    ax.set_title("Temperature")
    _legend_below(ax)

    _feed_panel(axes[4], d, rows, steps, display)

    _titer_panel(axes[5], rows, steps, quantiles, d, display)
    for ax in axes:
        ax.set_xlabel("culture day")
        ax.grid(alpha=0.3)
        for k, e in enumerate(events, start=1):
            c = detector_color(e.detector)
            ax.axvspan(
                e.start_h / 24.0, max(e.end_h, e.start_h + 0.5) / 24.0, color=c, alpha=0.15, lw=0
            )
            if k <= _MAX_REASONS:
                ax.text(e.start_h / 24.0, 1.0, str(k), transform=ax.get_xaxis_transform(),
                        fontsize=7, color=c, va="top", ha="left")  # fmt: skip

    tax = fig.add_subplot(gs[3, :])
    tax.axis("off")
    lines = [_reason_line(k, e) for k, e in enumerate(events[:_MAX_REASONS], start=1)]
    if len(events) > n_ev:
        lines.append(f"... and {len(events) - n_ev} more alarms (see alarms.csv)")
    tax.text(0.0, 1.0, "\n".join(lines) if lines else "No alarms.", va="top", ha="left", fontsize=8,
             transform=tax.transAxes, family="monospace")  # fmt: skip
    shown = sorted({e.detector for e in events})  # key the shaded windows' colours
    if shown:
        keys = [Patch(color=detector_color(n), alpha=0.3, label=f"{n} alarm") for n in shown]
        fig.legend(
            handles=keys, loc="outside lower right", fontsize=7, frameon=False, ncols=len(keys)
        )
    return fig


#: the CHO dashboard's assay panels: (left, right, title); each side
#: ``(column, style, label, unit, colour)``
_CHO_PANELS = (
    (("vcd_1e6_cells_mL", "o-", "VCD", "1e6 cells/mL", "tab:green"),
     ("viability_pct", "s--", "viability", "%", "tab:gray"), "VCD (left) and viability (right)"),
    (("glucose_g_L", "o-", "glucose", "g/L", "tab:blue"),
     ("lactate_g_L", "s-", "lactate", "g/L", "tab:brown"), "Glucose (left) and lactate (right)"),
)  # fmt: skip


def _assay_panels(display, rows: pd.DataFrame) -> tuple:
    """The two assay panels: CHO's, or the process's own assays (the product aside), paired."""
    process = getattr(display, "process", None)
    if process is None or process.name.startswith("cho_fedbatch"):
        return _CHO_PANELS
    shown = {_do_columns(display)[0], "ph", "temperature_C"}  # on panels of their own
    names = [v for v in process.with_role("offline") if v != process.product and v in rows]
    names += [v for v in process.with_role("online") if v in rows and v not in shown]
    colors = ("tab:green", "tab:gray", "tab:blue", "tab:brown")
    spec = [(v, "o-" if k % 2 == 0 else "s--", process.variable(v).label or v,
             process.variable(v).unit, colors[k]) for k, v in enumerate(names[:4])]  # fmt: skip
    while len(spec) < 4:
        spec.append(("", "-", "", "", "tab:gray"))
    return tuple((spec[2 * i], spec[2 * i + 1], _pair_title(spec[2 * i], spec[2 * i + 1]))
                 for i in range(2))  # fmt: skip


def _pair_title(left: tuple, right: tuple) -> str:
    """Title of a twin-axis panel ('X (left) and Y (right)'; one side: its name only)."""
    if left[0] and right[0]:
        return f"{left[2]} (left) and {right[2]} (right)"
    return left[2] or right[2]


def _do_columns(display) -> tuple[str, str, str]:
    """DO column, its set point and the unit label: CHO's, or the process's DO reading."""
    process = getattr(display, "process", None)
    if process is None or process.name.startswith("cho_fedbatch"):
        return "do_pct", "do_setpoint_pct", "% air sat."
    do = [v for v in process.variables if v.dissolved_oxygen and v.role == "online"]
    sp = [v.name for v in process.variables if v.dissolved_oxygen and v.role == "setpoint"]
    if not do:
        return "", "", ""
    return do[0].name, sp[0] if sp else "", do[0].unit


def _feed_panel(ax, d, rows: pd.DataFrame, steps: dict, display) -> None:
    """Given and recommended feed; a process without a feed says so instead."""
    process = getattr(display, "process", None)
    feed = process.feed if process is not None else schema.FEED
    if feed is None:
        ax.text(0.5, 0.5, "no feed to recommend", transform=ax.transAxes, ha="center",
                va="center", color="gray")  # fmt: skip
        ax.set_title("Feed")
        return
    sd = np.asarray(steps["time_h"], dtype=float) / 24.0
    _line(ax, d, _col(rows, feed), "-", "given", color="k", lw=1, drawstyle="steps-post")
    ax.plot(sd, steps["feed"], "--", color="tab:red", lw=1, label="recommended")
    feed_unit = display.unit(feed) if display is not None else "mL/h"
    ax.plot(sd[-1:], steps["feed"][-1:], "o", color="tab:red", ms=5,
            label=f"next: {steps['feed'][-1]:.3g} {feed_unit}")  # fmt: skip
    ax.set_ylabel(_label(display, feed, "feed rate", "mL/h"))
    ax.set_title("Feed: given and recommended")
    _legend_below(ax)


def _titer_panel(
    ax, rows: pd.DataFrame, steps: dict, quantiles: list[float], d, display=None
) -> None:
    """Measured titer, the reported daily curve (as ``trajectories.csv``) and the harvest."""
    pick = QuantilePick.of(quantiles)
    days, tr, fitted = daily_trajectory(steps["time_h"], np.asarray(steps["trajectory"]), pick)
    if not steps.get("product_in_run", True):  # measured only at harvest: no daily curve
        days, tr, fitted = days[-1:], tr[-1:], fitted[-1:]
    if days.size:
        ahead = ~fitted
        band = ahead.copy()  # from the last day behind, so the band starts at the curve
        if ahead.any() and ahead.argmax() > 0:
            band[ahead.argmax() - 1] = True
        if band.any():
            ax.fill_between(days[band], tr[band, 0], tr[band, 2], color="tab:blue", alpha=0.2,
                            label="80 % band")  # fmt: skip
        ax.plot(days, tr[:, 1], "-", color="tab:blue", lw=1.2, label="trajectory", gid="trajectory")
        ax.plot(days[fitted], tr[fitted, 1], "o", mfc="white", color="tab:blue", ms=4,
                label="fitted (days behind)")  # fmt: skip
        if ahead.any():
            ax.plot(days[ahead], tr[ahead, 1], "o", color="tab:blue", ms=4,
                    label=f"forecast from day {d[-1]:.1f}")  # fmt: skip
    lo, mid, hi = pick
    product = display.product if display is not None else schema.TITER
    unit = display.unit(product) if display is not None else "mg/L"
    h = np.asarray(steps["harvest"])[-1]
    at = days[-1] if days.size else d[-1]
    ax.errorbar([at], [h[mid]], yerr=[[h[mid] - h[lo]], [h[hi] - h[mid]]], fmt="D",
                color="tab:red", ms=6, capsize=3, zorder=5,
                label=f"harvest: {h[mid]:.0f} {unit}" if abs(h[mid]) >= 100 else f"harvest: {h[mid]:.3g} {unit}")  # fmt: skip
    _line(ax, d, _col(rows, product), "ko", "measured", ms=3.5, zorder=6)
    ax.axvline(d[-1], color="gray", lw=0.8, ls="--")
    ax.set_ylabel(_label(display, product, "titer", "mg/L"))
    name = "Titer" if display is None or product == schema.TITER else display.column(product)
    ax.set_title(f"{name}: measured, fitted and forecast")
    _legend_below(ax)


def _reason_line(k: int, e) -> str:
    name = e.detector + (f"/{e.rule}" if e.rule else "")
    text = f"[{k}] {e.start_h / 24:.1f}-{e.end_h / 24:.1f} d {name}: {e.reason}"
    return textwrap.shorten(text, width=170, placeholder=" ...")


def save_dashboard(res, batch_id: str, path: Path, dpi: int = 80) -> Path:
    """Draw and save the dashboard of one batch of a ``Predictions`` result."""
    rows = res.batches[batch_id]
    steps = res.steps[batch_id]
    events = res.events.get(batch_id, [])
    fig = dashboard_figure(rows, steps, events, list(res.quantiles), getattr(res, "display", None))
    fig.savefig(path, dpi=dpi)
    return Path(path)
