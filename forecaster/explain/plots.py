"""Attribution figures: one prediction's heatmap above its batch's signals; global bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import SymLogNorm  # noqa: E402

from forecaster import schema  # noqa: E402
from forecaster.data.errors import ConfigError  # noqa: E402
from forecaster.data.process import known_variable  # noqa: E402
from forecaster.explain.result import AttributionResult  # noqa: E402


def _label(v: str) -> str:
    """``"DO (mg/L)"``: a variable's label and unit from the process presets, else its name."""
    if v == schema.TIME:
        return "time (clock)"
    try:
        var = known_variable(v)
    except (ConfigError, KeyError):
        return v
    return f"{var.label or v} ({var.unit})"


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """``(L,)`` cell centres (e.g. row times) -> ``(L + 1,)`` edges halfway between them.

    Each cell of the heatmap is then centred on its row's time, on any grid (irregular or
    not); the outer cells are as wide as their neighbour (1 unit for a single row).
    """
    c = np.asarray(centres, dtype=float)
    if c.size == 0:
        return np.zeros(1)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2.0
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def heatmap_figure(
    result: AttributionResult, rows: pd.DataFrame, n_vars: int = 8, n_signals: int = 4
):
    """Attribution over time x variable for one prediction, above the batch's signals.

    Args:
        result: one prediction's attributions.
        rows: the batch's rows (the signals plotted are its ``n_signals`` top variables).
        n_vars: variables shown in the heatmap (largest shares).
        n_signals: signal panels below the heatmap.

    Returns:
        matplotlib Figure: heatmap of signed attribution (scaled output units, symmetric-log
        colour scale, so the small contributions of older history stay visible next to the
        large ones of the last steps), then one panel per top variable in its own unit; the
        rows after the forecast origin (not seen by the model) are shaded.
    """
    shares = result.variable_shares().sort_values(ascending=False, kind="stable")
    top = list(shares.index[:n_vars])
    sig = [v for v in top if v in rows.columns and v != schema.TIME][:n_signals]
    # The colour bar gets its own column, so the heatmap is exactly as wide as the signal
    # panels under it: a colour bar taken from the heatmap's axes alone shrank it and put
    # day 11 of the heatmap above day 10.6 of the signals.
    fig = plt.figure(figsize=(9, 3.2 + 1.3 * len(sig)))
    gs = fig.add_gridspec(
        1 + len(sig), 2, height_ratios=[3] + [1] * len(sig), width_ratios=[1, 0.025]
    )
    axes = [fig.add_subplot(gs[0, 0])]
    axes += [fig.add_subplot(gs[i + 1, 0], sharex=axes[0]) for i in range(len(sig))]
    vals = result.values[:, [result.variables.index(v) for v in top]].T  # (n_vars, L)
    lim = float(np.abs(vals).max()) or 1.0
    days = result.time_h / 24.0
    im = axes[0].pcolormesh(
        cell_edges(days),
        np.arange(len(top) + 1) - 0.5,
        vals,
        cmap="RdBu_r",
        norm=SymLogNorm(linthresh=lim / 100.0, vmin=-lim, vmax=lim),
        shading="flat",
    )
    axes[0].set_ylim(len(top) - 0.5, -0.5)
    axes[0].set_yticks(
        range(len(top)), [f"{_label(v)}  {100 * shares[v]:.0f}%" for v in top], fontsize=7
    )
    axes[0].set_title(
        f"{result.batch_id}: {result.method} attribution of the {result.target} prediction at "
        f"day {result.origin_h / 24:.1f} (scaled output units)",
        fontsize=9,
    )
    ticks = [-lim, -lim / 10, 0.0, lim / 10, lim]
    cb = fig.colorbar(im, cax=fig.add_subplot(gs[0, 1]), ticks=ticks)
    cb.set_label("attribution (scaled units)", fontsize=7)
    cb.ax.set_yticklabels([f"{x:.2g}" for x in ticks], fontsize=7)
    rows = rows.sort_values(schema.TIME)
    t = rows[schema.TIME].to_numpy(dtype=float) / 24.0
    for ax, v in zip(axes[1:], sig):
        y = rows[v].to_numpy(dtype=float)
        seen = np.isfinite(y)
        style = "o-" if seen.mean() < 0.5 else "-"
        ax.plot(t[seen], y[seen], style, ms=2.5, lw=1, color="0.2")
        ax.axvline(result.origin_h / 24.0, color="r", lw=1, ls="--")
        if t[-1] > result.origin_h / 24.0:
            ax.axvspan(result.origin_h / 24.0, t[-1], color="0.9", zorder=0)
        ax.set_ylabel(_label(v), fontsize=7, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("culture day")
    fig.tight_layout()
    return fig


def importance_bars_figure(table: pd.DataFrame, title: str, n_vars: int = 12):
    """Side-by-side horizontal bars of global importance per variable and method.

    Args:
        table: variables x columns (methods, ``truth``), each column shares summing to 1.
        title: axis title.
        n_vars: variables shown (largest mean share first).
    """
    order = (
        table.fillna(0.0).mean(axis=1).sort_values(ascending=False, kind="stable").index[:n_vars]
    )
    tab = table.loc[order].fillna(0.0)
    n_m = tab.shape[1]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) * max(1, n_m / 3) + 1.2))
    height = 0.8 / max(n_m, 1)
    colors = plt.cm.tab10(np.arange(n_m))
    y = np.arange(len(order))
    for k, col in enumerate(tab.columns):
        hatch = "//" if col == "truth" else None
        ax.barh(y + k * height, tab[col], height=height, color=colors[k], hatch=hatch, label=col)
    ax.set_yticks(y + 0.4 - height / 2, [_label(v) for v in order], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("share of total importance")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
