"""Multi-panel figure of a few simulated batches (one column each), fault windows shaded."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecaster.sim.result import SimResult  # noqa: E402

#: Panels: (left variable, right variable or None, left label, right label).
PANELS = (
    ("vcd_1e6_cells_mL", "viability_pct", "VCD (1e6 cells/mL)", "viability (%)"),
    ("glucose_g_L", "lactate_g_L", "glucose (g/L)", "lactate (g/L)"),
    ("glutamine_mM", "ammonia_mM", "glutamine (mM)", "ammonia (mM)"),
    ("titer_mg_L", None, "titer (mg/L)", None),
    ("do_pct", "agitation_rpm", "DO (% air sat.)", "agitation (rpm)"),
    ("ph", "base_rate_mL_h", "pH", "base (mL/h)"),
    ("temperature_C", "temperature_setpoint_C", "temperature (C)", None),
    ("feed_rate_mL_h", "volume_L", "feed (mL/h)", "volume (L)"),
)
LEFT, RIGHT = "tab:blue", "tab:orange"


def pick_batches(result: SimResult, n: int = 4) -> list[str]:
    """Up to ``n`` batch ids: one fault-free batch, then faulty ones of distinct types."""
    b = result.batches
    normal = b.loc[b["fault_type"] == "none", "batch_id"].tolist()[:1]
    faulty = b.loc[b["fault_type"] != "none"].drop_duplicates("fault_type")["batch_id"].tolist()
    ids = normal + faulty
    rest = [i for i in b["batch_id"] if i not in ids]
    return (ids + rest)[:n]


def plot_batches(result: SimResult, batch_ids: list[str] | None = None, n: int = 4) -> plt.Figure:
    """Figure with one column per batch and the eight panels of ``PANELS`` as rows.

    Offline assays are drawn as markers, online signals as lines; the fault window of each
    batch is shaded red and named in the column title.
    """
    ids = batch_ids if batch_ids is not None else pick_batches(result, n)
    table = result.table
    faults = result.faults.set_index("batch_id") if len(result.faults) else pd.DataFrame()
    fig, axes = plt.subplots(
        len(PANELS), len(ids), figsize=(4.2 * len(ids), 2.1 * len(PANELS)), squeeze=False
    )
    for j, bid in enumerate(ids):
        rows = table[table["batch_id"] == bid]
        days = rows["time_h"].to_numpy() / 24.0
        title = bid
        window = None
        if bid in faults.index:
            f = faults.loc[bid]
            window = (f["start_h"] / 24.0, f["end_h"] / 24.0)
            title += f"\n{f['type']} ({f['affected']})"
        for i, (left, right, l_lab, r_lab) in enumerate(PANELS):
            ax = axes[i, j]
            _series(ax, days, rows[left].to_numpy(float), LEFT)
            ax.set_ylabel(l_lab, color=LEFT, fontsize=8)
            if right is not None:
                if right == "temperature_setpoint_C":
                    ax.plot(days, rows[right], color="k", lw=0.8, ls="--")
                else:
                    ax2 = ax.twinx()
                    _series(ax2, days, rows[right].to_numpy(float), RIGHT)
                    ax2.set_ylabel(r_lab, color=RIGHT, fontsize=8)
                    ax2.tick_params(labelsize=7)
            if window is not None:
                ax.axvspan(*window, color="red", alpha=0.15, lw=0)
            ax.tick_params(labelsize=7)
            if i == len(PANELS) - 1:
                ax.set_xlabel("time (days)", fontsize=8)
        axes[0, j].set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def _series(ax: plt.Axes, days: np.ndarray, y: np.ndarray, color: str) -> None:
    """Markers for sparse assays, a line for dense signals."""
    ok = np.isfinite(y)
    if ok.sum() < 0.5 * y.size:
        ax.plot(days[ok], y[ok], "o-", color=color, ms=3, lw=0.8)
    else:
        ax.plot(days, y, color=color, lw=0.9)


def save_figure(fig: plt.Figure, path: str) -> None:
    """Write ``fig`` as PNG and close it (the caller handles atomic replace)."""
    fig.savefig(path, dpi=80, format="png", metadata={"Software": None})
    plt.close(fig)
