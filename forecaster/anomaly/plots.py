"""Per-batch anomaly figure (signals, scores against thresholds, alarm and fault windows)
and the score histogram.

Every panel has a y-label with units, quantities of different scale sit on separate axes,
legends sit outside the axes, and each detector has one colour in every figure
(:func:`detector_color`), with a legend entry per detector.
"""

from __future__ import annotations

import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from forecaster import schema  # noqa: E402
from forecaster.anomaly.events import AlarmEvent  # noqa: E402
from forecaster.anomaly.rule_vars import RuleVariables, guess_process  # noqa: E402
from forecaster.data.errors import ConfigError  # noqa: E402
from forecaster.data.process import known_variable  # noqa: E402

#: One panel per quantity (its set point drawn with it): (columns, y-label with units).
PANELS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("do_pct", "do_setpoint_pct"), "DO (% air sat.)"),
    (("ph", "ph_setpoint"), "pH (-)"),
    (("temperature_C", "temperature_setpoint_C"), "temperature (°C)"),
    (("glucose_g_L",), "glucose (g/L)"),
    (("vcd_1e6_cells_mL",), "VCD (1e6 cells/mL)"),
    (("viability_pct",), "viability (%)"),
)
#: Colours of the built-in detectors; other scorers get one from their name (stable).
DETECTOR_COLORS: dict[str, str] = {
    "autoencoder": "tab:red",
    "rules": "tab:purple",
    "pca": "tab:green",
}
_SPARE = ("tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:blue")
FAULT_COLOR = "0.55"


def detector_color(name: str) -> str:
    """The colour of detector ``name``, the same in every figure and run."""
    return DETECTOR_COLORS.get(name) or _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]


def _role(c: str) -> str:
    try:
        return known_variable(c).role
    except (ConfigError, KeyError):
        return "online"


def _panels(rows: pd.DataFrame, rv: RuleVariables | None) -> list[tuple[tuple[str, ...], str]]:
    """The ``PANELS`` whose quantity the batch has, in its own columns and units."""
    if rv is None:
        rv = RuleVariables.resolve(guess_process(rows.columns))
    out = []
    for cols, ylabel in PANELS:
        mine = tuple(rv.column(c) for c in cols if c in rv.columns)
        if not mine or mine[0] not in rows:
            continue
        if mine[0] != cols[0]:  # another process's column: its own label and unit
            try:
                v = known_variable(mine[0])
                ylabel = f"{v.label} ({v.unit})"
            except (ConfigError, KeyError):
                ylabel = mine[0]
        out.append((mine, ylabel))
    return out


def _legend_outside(ax, **kw) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=True, **kw)


def batch_figure(
    rows: pd.DataFrame,
    hist: dict[str, np.ndarray],
    events: list[AlarmEvent],
    faults: pd.DataFrame,
    thresholds: dict[str, float],
    variables: RuleVariables | None = None,
):
    """Figure of one test batch.

    Args:
        rows: the batch's rows (raw units).
        hist: per-row arrays from ``AlarmStream.history()`` (``autoencoder_score``...).
        events: this batch's alarms; faults: this batch's rows of the fault table.
        thresholds: detector -> score threshold (same units as its score).
        variables: which of the batch's columns plays DO, pH, temperature... (None: the
            process preset that covers most of the columns).

    Returns:
        A matplotlib figure (close it after saving).
    """
    t = rows[schema.TIME].to_numpy(float)
    panels = _panels(rows, variables)
    n = len(panels) + 1
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.45 * n + 0.6), sharex=True, layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, (cols, ylabel) in zip(axes, panels):
        for c in cols:
            if c not in rows:
                continue
            y = rows[c].to_numpy(float)
            ok = np.isfinite(y)
            if "setpoint" in c:
                ax.plot(t[ok], y[ok], "--", color="0.3", lw=0.9, label="set point")
            elif _role(c) == "offline":
                ax.plot(t[ok], y[ok], "o-", color="tab:blue", ms=3, lw=0.8, label="assay")
            else:
                ax.plot(t[ok], y[ok], "-", color="tab:blue", lw=1, label="reading")
        ax.set_ylabel(ylabel, fontsize=8)
        _legend_outside(ax)
    ax = axes[-1]
    for d in thresholds:
        s = hist.get(f"{d}_score")
        if s is not None:
            ax.plot(t, np.maximum(s / thresholds[d], 1e-3), color=detector_color(d), lw=1,
                    label=f"{d} score")  # fmt: skip
    ax.axhline(1.0, color="k", lw=0.8, ls=":", label="threshold")
    ax.set_yscale("log")
    ax.set_ylabel("score / threshold (-)", fontsize=8)
    ax.set_xlabel("time since inoculation (h)")
    _legend_outside(ax)
    for a in axes:
        for f in faults.itertuples(index=False):
            end = float(f.end_h) if pd.notna(f.end_h) else t[-1]
            a.axvspan(float(f.start_h), end, color=FAULT_COLOR, alpha=0.3, lw=0)
        for e in events:
            c = detector_color(e.detector)
            a.axvspan(e.start_h, max(e.end_h, e.start_h + 0.5), color=c, alpha=0.12, lw=0)
            a.axvline(e.raised_h, color=c, lw=0.7)
    handles = [Patch(color=FAULT_COLOR, alpha=0.5, label="true fault")]
    handles += [Patch(color=detector_color(d), alpha=0.5, label=f"{d} alarm")
                for d in dict.fromkeys(e.detector for e in events)]  # fmt: skip
    kinds = ", ".join(sorted({str(f.type) for f in faults.itertuples(index=False)})) or "no fault"
    n_inc = len({e.incident_id for e in events if e.incident_id})
    fig.suptitle(f"{rows[schema.BATCH_ID].iloc[0]}: {kinds}; {len(events)} alarm events"
                 + (f" in {n_inc} incidents" if n_inc else ""), fontsize=10)  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    return fig


def score_histogram_figure(normal: np.ndarray, faulty: np.ndarray, threshold: float, name: str):
    """Distribution of a score on normal and faulty rows, with the threshold."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
    lo = max(min(np.nanmin(normal), np.nanmin(faulty) if faulty.size else np.inf), 1e-6)
    hi = max(np.nanmax(normal), np.nanmax(faulty) if faulty.size else 0, threshold * 2)
    bins = np.logspace(np.log10(lo), np.log10(hi), 60)
    ax.hist(normal, bins=bins, alpha=0.6, density=True, color="tab:blue", label="normal rows")
    if faulty.size:
        ax.hist(faulty, bins=bins, alpha=0.6, density=True, color=FAULT_COLOR, label="faulty rows")
    ax.axvline(threshold, color=detector_color(name), ls="--", label=f"{name} threshold")
    ax.set_xscale("log")
    ax.set_xlabel(f"{name} score (its own units; alarm above the threshold)")
    ax.set_ylabel("density (share of rows per score unit)")
    ax.set_title(f"{name} score on the test batches")
    _legend_outside(ax)
    return fig
