"""Figures shared by TensorBoard, the run report and predict (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecaster import schema  # noqa: E402
from forecaster.models.decode import QuantilePick  # noqa: E402


def forecast_figure(model, batches: Sequence[pd.DataFrame], origin_days: Sequence[int] = (3, 7)):
    """Per batch: measured product, forecast trajectory with 80 % band from each origin day;
    and the recommended vs. given feed rate over the run (forecasts decoded by
    :func:`forecaster.models.decode.decode`, through ``model.step_outputs``). A process
    without a feed gets the product row only."""
    outs = model.step_outputs(batches)
    lo, mid, hi = QuantilePick.of(model.net.quantiles)
    prep = model.prep
    product, p_name, p_unit = (
        prep.product,
        prep.label(prep.product).lower(),
        prep.unit(prep.product),
    )
    feed = prep.feed
    n_rows = 2 if feed is not None else 1
    fig, axes = plt.subplots(
        n_rows, len(batches), figsize=(4.2 * len(batches), 3.5 * n_rows), squeeze=False
    )
    colors = plt.cm.viridis(np.linspace(0.15, 0.85, len(origin_days)))
    for k, (g, o) in enumerate(zip(batches, outs)):
        ax = axes[0, k]
        t = g[schema.TIME].to_numpy(dtype=float)
        y = g[product].to_numpy(dtype=float)
        ax.plot(t / 24, y, "ko", ms=3, label="measured")
        days = np.arange(1, o["trajectory"].shape[1] + 1)
        for c, d in zip(colors, origin_days):
            idx = np.flatnonzero(o["time_h"] <= 24 * d)
            if idx.size == 0:
                continue
            tr = o["trajectory"][idx[-1]]
            fut = days > d
            ax.plot(days[fut], tr[fut, mid], "-", color=c, label=f"from day {d}")
            ax.fill_between(days[fut], tr[fut, lo], tr[fut, hi], color=c, alpha=0.2)
        h = o["harvest"][-1]  # the last row's harvest forecast, on the harvest day
        ax.errorbar([days[-1]], [h[mid]], yerr=[[h[mid] - h[lo]], [h[hi] - h[mid]]], fmt="D",
                    color="tab:red", ms=4, capsize=2, label="harvest (last row)")  # fmt: skip
        ax.set_title(f"{g[schema.BATCH_ID].iloc[0]}: {p_name}")
        ax.set_xlabel("culture day")
        ax.set_ylabel(f"{p_name} ({p_unit})")
        _legend_below(ax, ncol=2)
        if feed is None:
            continue
        ax = axes[1, k]
        ax.plot(t / 24, g[feed].to_numpy(dtype=float), "k-", lw=1, label="given")
        ax.plot(o["time_h"] / 24, o["feed"], "r--", lw=1, label="recommended")
        ax.set_xlabel("culture day")
        ax.set_ylabel(f"{prep.label(feed).lower()} ({prep.unit(feed)})")
        _legend_below(ax, ncol=2)
    fig.tight_layout()
    return fig


def _legend_below(ax, ncol: int = 3) -> None:
    """Legend under the axes: it never covers the curves (``tight_layout`` makes room)."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=ncol,
              frameon=False)  # fmt: skip


def parity_figure(y: np.ndarray, preds: dict[str, np.ndarray], title: str, unit: str):
    """Predicted vs. actual for several models on one axis."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    lo = np.nanmin([np.nanmin(y)] + [np.nanmin(p) for p in preds.values()])
    hi = np.nanmax([np.nanmax(y)] + [np.nanmax(p) for p in preds.values()])
    ax.plot([lo, hi], [lo, hi], "k:", lw=1)
    for name, p in preds.items():
        ax.plot(y, p, "o", ms=3, alpha=0.6, label=name)
    ax.set_xlabel(f"actual ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")  # the parity line runs lower left to upper right
    fig.tight_layout()
    return fig


def mape_by_day_figure(metrics: dict, product: str = "titer"):
    """Harvest-product MAPE by forecast-origin day, sequence model vs RF, with the noise floor."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in ("sequence", "rf"):
        m = metrics.get("titer", {}).get(name, {}).get("harvest_mape_by_day", {})
        if m:
            days = sorted(m, key=float)
            ax.plot([float(d) for d in days], [100 * m[d] for d in days], "o-", label=name)
    floor = metrics.get("titer", {}).get("noise_floor_mape")
    if floor is not None:
        ax.axhline(100 * floor, color="gray", ls="--", label="assay-noise floor")
    ax.set_xlabel("forecast origin (culture day)")
    ax.set_ylabel(f"harvest {product} MAPE (%)")
    ax.set_ylim(bottom=0)
    _legend_below(ax)
    fig.tight_layout()
    return fig
