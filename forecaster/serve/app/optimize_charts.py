"""Plotly figures of the key-factors page: importances, predicted titer, feed plans.

Pure functions of the tables of :mod:`.optimize_files`, tested without a browser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from forecaster.serve.app.optimize_files import METHOD_LABELS

__all__ = ["feed_plan_figure", "importance_figure", "titer_figure"]

#: factors shown per method (the strongest by importance)
TOP = 15


def _name(row) -> str:
    unit = str(row["unit"]) if isinstance(row["unit"], str) and row["unit"] else ""
    return f"{row['label']} ({unit})" if unit else str(row["label"])


def importance_figure(kf: pd.DataFrame, top: int = TOP) -> go.Figure:
    """Horizontal bars of importance with the 90 % bootstrap interval, one panel per method.

    Args:
        kf: ``key_factors.csv`` (factor, label, unit, method, importance, ci_lo, ci_hi, rank).
        top: factors per panel, the strongest first.
    """
    methods = list(dict.fromkeys(kf["method"]))
    fig = make_subplots(rows=1, cols=max(len(methods), 1), horizontal_spacing=0.25,
                        subplot_titles=[METHOD_LABELS.get(m, m) for m in methods])  # fmt: skip
    for i, m in enumerate(methods, start=1):
        rows = kf[kf["method"] == m].sort_values("importance", ascending=False).head(top)
        rows = rows.iloc[::-1]  # strongest on top
        imp = rows["importance"].to_numpy(dtype=float)
        fig.add_trace(
            go.Bar(x=imp, y=[_name(r) for _, r in rows.iterrows()], orientation="h", name=METHOD_LABELS.get(m, m),
                   error_x={"type": "data", "symmetric": False,
                            "array": rows["ci_hi"].to_numpy(dtype=float) - imp,
                            "arrayminus": imp - rows["ci_lo"].to_numpy(dtype=float)},
                   hovertemplate="%{y}: %{x:.3g}<extra></extra>"),
            row=1, col=i,
        )  # fmt: skip
        ref = 1.0 if m == "pls_vip" else 0.0  # "no effect"
        fig.add_vline(x=ref, line={"dash": "dot", "color": "grey"}, row=1, col=i)
        fig.update_xaxes(
            title_text="VIP (1: usual mark)" if m == "pls_vip" else "drop in R²", row=1, col=i
        )
    n = max((kf["method"] == m).sum() for m in methods) if methods else 1
    fig.update_layout(
        height=140 + 26 * min(n, top), showlegend=False, margin={"l": 10, "r": 10, "t": 40}
    )
    return fig


def titer_figure(rows: pd.DataFrame, product: str, unit: str) -> go.Figure:
    """Predicted titer of the current and the recommended recipe with the 80 % interval.

    Args:
        rows: :func:`~.optimize_files.titer_rows` (recipe, mean, lo80, hi80).
        product: the product's name; unit: its unit.
    """
    mean = rows["mean"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(x=list(rows["recipe"]), y=mean, marker_color=["#7f7f7f", "#2ca02c"][: len(rows)],
               error_y={"type": "data", "symmetric": False,
                        "array": rows["hi80"].to_numpy(dtype=float) - mean,
                        "arrayminus": mean - rows["lo80"].to_numpy(dtype=float)},
               name=f"predicted harvest {product} ({unit})",
               hovertemplate="%{x}: %{y:.4g}<extra></extra>")
    )  # fmt: skip
    fig.update_layout(height=320, yaxis_title=f"predicted harvest {product} ({unit}), 80 % interval",
                      margin={"l": 10, "r": 10, "t": 30})  # fmt: skip
    return fig


def feed_plan_figure(plan: pd.DataFrame, feed: str | None, unit: str) -> go.Figure:
    """One running batch's plan: the planned feed rate and the titer with vs without it.

    Args:
        plan: the batch's rows of ``feed_plans.csv`` (time_h, the feed column,
            predicted_titer, predicted_titer_default).
        feed: the feed column (None: no feed trace).
        unit: the titer's unit.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    day = plan["time_h"].to_numpy(dtype=float) / 24.0
    if feed is not None:
        fig.add_trace(go.Scatter(x=day, y=plan[feed], name=f"planned {feed}", mode="lines+markers",
                                 line={"shape": "hv", "color": "#1f77b4"}), secondary_y=False)  # fmt: skip
    for col, name, dash in (("predicted_titer", "titer with the plan", None),
                            ("predicted_titer_default", "titer, recipe as usual", "dash")):  # fmt: skip
        y = pd.to_numeric(plan[col], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(y).any():
            fig.add_trace(go.Scatter(x=day, y=y, name=f"{name} ({unit})", mode="lines+markers",
                                     line={"dash": dash, "color": "#2ca02c"}), secondary_y=True)  # fmt: skip
    fig.update_xaxes(title_text="culture day")
    fig.update_yaxes(title_text=feed or "feed", secondary_y=False)
    fig.update_yaxes(title_text=f"predicted harvest titer ({unit})", secondary_y=True)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30}, legend={"orientation": "h"})
    return fig
