"""Per-batch anomaly figure: signals, scores against thresholds, alarm and fault windows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecaster import schema  # noqa: E402
from forecaster.anomaly.events import AlarmEvent  # noqa: E402

_PANELS: tuple[tuple[str, ...], ...] = (
    ("do_pct", "do_setpoint_pct"),
    ("ph", "ph_setpoint"),
    ("temperature_C", "temperature_setpoint_C"),
    ("glucose_g_L", "vcd_1e6_cells_mL", "viability_pct"),
)
_COLORS = {"autoencoder": "tab:red", "rules": "tab:purple", "pca": "tab:green"}


def batch_figure(
    rows: pd.DataFrame,
    hist: dict[str, np.ndarray],
    events: list[AlarmEvent],
    faults: pd.DataFrame,
    thresholds: dict[str, float],
):
    """Figure of one test batch.

    Args:
        rows: the batch's rows (raw units).
        hist: per-row arrays from ``AlarmStream.history()`` (``autoencoder_score``...).
        events: this batch's alarms; faults: this batch's rows of the fault table.
        thresholds: detector -> score threshold (same units as its score).

    Returns:
        A matplotlib figure (close it after saving).
    """
    t = rows[schema.TIME].to_numpy(float)
    panels = [p for p in _PANELS if p[0] in rows]
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(9, 2.0 * (len(panels) + 1)), sharex=True)
    for ax, cols in zip(axes, panels):
        for c in cols:
            if c not in rows:
                continue
            y = rows[c].to_numpy(float)
            style = (
                "--" if "setpoint" in c else ("o" if schema.variable(c).role == "offline" else "-")
            )
            ax.plot(
                t[np.isfinite(y)],
                y[np.isfinite(y)],
                style,
                ms=3,
                lw=1,
                label=schema.variable(c).label,
            )
        ax.legend(loc="upper right", fontsize=7)
    ax = axes[-1]
    for d in thresholds:
        s = hist.get(f"{d}_score")
        if s is None or d not in thresholds:
            continue
        ax.plot(t, s / thresholds[d], color=_COLORS.get(d), lw=1, label=f"{d} score / threshold")
    ax.axhline(1.0, color="k", lw=0.8, ls=":", label="threshold")
    ax.set_yscale("log")
    ax.set_xlabel("time since inoculation (h)")
    ax.legend(loc="upper left", fontsize=7)
    for a in axes:
        for f in faults.itertuples(index=False):
            end = float(f.end_h) if pd.notna(f.end_h) else t[-1]
            a.axvspan(float(f.start_h), end, color="0.6", alpha=0.3, lw=0)
        for e in events:
            a.axvspan(
                e.start_h,
                max(e.end_h, e.start_h + 0.5),
                color=_COLORS.get(e.detector, "r"),
                alpha=0.15,
                lw=0,
            )
            a.axvline(e.raised_h, color=_COLORS.get(e.detector, "r"), lw=0.6)
    kinds = ", ".join(sorted({str(f.type) for f in faults.itertuples(index=False)})) or "no fault"
    axes[0].set_title(
        f"{rows[schema.BATCH_ID].iloc[0]}: {kinds} (grey: true fault; colour: alarms)"
    )
    fig.tight_layout()
    return fig


def score_histogram_figure(normal: np.ndarray, faulty: np.ndarray, threshold: float, name: str):
    """Distribution of a score on normal and faulty rows, with the threshold."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    lo = max(min(np.nanmin(normal), np.nanmin(faulty) if faulty.size else np.inf), 1e-6)
    hi = max(np.nanmax(normal), np.nanmax(faulty) if faulty.size else 0, threshold * 2)
    bins = np.logspace(np.log10(lo), np.log10(hi), 60)
    ax.hist(normal, bins=bins, alpha=0.6, density=True, label="normal rows")
    if faulty.size:
        ax.hist(faulty, bins=bins, alpha=0.6, density=True, label="faulty rows")
    ax.axvline(threshold, color="k", ls="--", label="threshold")
    ax.set_xscale("log")
    ax.set_title(f"{name} score")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
