"""Plotly figures of the app: one batch, a run's metrics, batches against an envelope.

Every trace is named and every axis carries its unit; x axes of batch charts are culture
days. Pure functions of tables, so they are tested without a browser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from forecaster import schema

__all__ = ["anomaly_chart", "batch_figure", "compare_figure", "label", "mape_chart"]

ALARM_COLORS = {"autoencoder": "#d62728", "rules": "#ff7f0e", "pca": "#9467bd"}
#: alarm windows drawn per batch figure (the table under it lists all)
MAX_WINDOWS = 40
_PANELS = (
    "VCD and viability", "Glucose and lactate", "DO and pH with set points",
    "Temperature and set point", "Feed: given and recommended", "Titer: measured and forecast",
)  # fmt: skip


def label(variable: str) -> str:
    """``Glucose (g/L)`` for a canonical column; the name itself for anything else."""
    v = schema.BY_NAME.get(variable)
    unit = {"degC": "°C", "pH": "-"}.get(v.unit, v.unit) if v is not None else ""
    return f"{v.label} ({unit})" if v is not None else variable


def _y(rows: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in rows.columns:
        return None
    y = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float)
    return y if np.isfinite(y).any() else None


def _trace(fig, rows, d, name, r, c, *, secondary=False, dash=None, color=None, markers=False,
           shape=None, title=None) -> None:  # fmt: skip
    y = _y(rows, name)
    if y is None:
        return
    ok = np.isfinite(y)
    fig.add_trace(
        go.Scatter(x=d[ok], y=y[ok], name=title or label(name), mode="lines+markers" if markers else "lines",
                   line={"dash": dash, "color": color, "shape": shape}, marker={"size": 5},
                   legendgroup=f"p{r}{c}"),
        row=r, col=c, secondary_y=secondary,
    )  # fmt: skip


def batch_figure(rows: pd.DataFrame, steps: dict, trajectory: pd.DataFrame, prediction: dict,
                 events: list) -> go.Figure:  # fmt: skip
    """All charts of one batch in one figure (3 x 2 panels sharing the culture-day axis).

    Args:
        rows: the batch's validated rows (canonical columns), sorted by time.
        steps: the forecaster's per-step outputs: ``time_h (T,)``, ``feed (T,)`` mL/h.
        trajectory: the batch's rows of ``Predictions.trajectories``.
        prediction: the batch's row of ``Predictions.predictions`` as a dict.
        events: the batch's ``AlarmEvent`` objects (shaded, numbered as in the alarm table).
    """
    d = rows[schema.TIME].to_numpy(dtype=float) / 24.0
    fig = make_subplots(rows=3, cols=2, shared_xaxes=True, subplot_titles=_PANELS,
                        specs=[[{"secondary_y": True}] * 2] * 3, vertical_spacing=0.08)  # fmt: skip
    _trace(fig, rows, d, "vcd_1e6_cells_mL", 1, 1, color="#2ca02c", markers=True)
    _trace(fig, rows, d, "viability_pct", 1, 1, secondary=True, color="#7f7f7f", dash="dot",
           markers=True)  # fmt: skip
    _trace(fig, rows, d, "glucose_g_L", 1, 2, color="#1f77b4", markers=True)
    _trace(fig, rows, d, "lactate_g_L", 1, 2, secondary=True, color="#8c564b", markers=True)
    _trace(fig, rows, d, "do_pct", 2, 1, color="#17becf")
    _trace(fig, rows, d, "do_setpoint_pct", 2, 1, color="#17becf", dash="dot")
    _trace(fig, rows, d, "ph", 2, 1, secondary=True, color="#9467bd")
    _trace(fig, rows, d, "ph_setpoint", 2, 1, secondary=True, color="#9467bd", dash="dot")
    _trace(fig, rows, d, "temperature_C", 2, 2, color="#d62728")
    _trace(fig, rows, d, "temperature_setpoint_C", 2, 2, color="black", dash="dot")
    _trace(fig, rows, d, schema.FEED, 3, 1, color="black", shape="hv", title="feed given (mL/h)")
    sd = np.asarray(steps["time_h"], dtype=float) / 24.0
    feed = np.asarray(steps["feed"], dtype=float)
    fig.add_trace(go.Scatter(x=sd, y=feed, name="feed recommended (mL/h)", mode="lines",
                             line={"dash": "dash", "color": "#d62728"}), row=3, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=sd[-1:], y=feed[-1:], mode="markers", marker={"size": 9, "color": "#d62728"},
                             name=f"next feed: {feed[-1]:.3g} mL/h"), row=3, col=1)  # fmt: skip
    _titer(fig, rows, d, trajectory, prediction)
    for k, e in enumerate(events[:MAX_WINDOWS], start=1):
        fig.add_vrect(x0=e.start_h / 24.0, x1=max(e.end_h, e.start_h + 0.5) / 24.0, row="all", col="all",
                      fillcolor=ALARM_COLORS.get(e.detector, "#d62728"), opacity=0.15, line_width=0,
                      annotation_text=str(k), annotation_position="top left",
                      annotation_font_size=9)  # fmt: skip
    for r, c, left, right in [(1, 1, "VCD (1e6 cells/mL)", "viability (%)"),
                              (1, 2, "glucose (g/L)", "lactate (g/L)"),
                              (2, 1, "DO (% air sat.)", "pH (-)"), (2, 2, "temperature (°C)", None),
                              (3, 1, "feed rate (mL/h)", None), (3, 2, "titer (mg/L)", None)]:  # fmt: skip
        fig.update_yaxes(title_text=left, row=r, col=c, secondary_y=False)
        if right:
            fig.update_yaxes(title_text=right, row=r, col=c, secondary_y=True, tickmode="auto",
                             showgrid=False)  # fmt: skip
    fig.update_xaxes(title_text="culture day", row=3)
    bid = rows[schema.BATCH_ID].iloc[0]
    fig.update_layout(height=900, title=f"Batch {bid}: day {d[-1]:.1f}, {len(events)} alarm(s)",
                      legend={"orientation": "h", "y": -0.08}, margin={"t": 80, "b": 40})  # fmt: skip
    return fig


def _titer(fig, rows, d, traj: pd.DataFrame, pred: dict) -> None:
    if not traj.empty:
        days = traj["day"].to_numpy(dtype=float)
        ahead = ~traj["fitted"].to_numpy(dtype=bool)
        band = ahead.copy()
        if ahead.any() and ahead.argmax() > 0:  # start the band at the last day behind
            band[ahead.argmax() - 1] = True
        if band.any():
            x = np.r_[days[band], days[band][::-1]]
            y = np.r_[
                traj["titer_p90_mg_L"].to_numpy()[band],
                traj["titer_p10_mg_L"].to_numpy()[band][::-1],
            ]
            fig.add_trace(go.Scatter(x=x, y=y, fill="toself", fillcolor="rgba(31,119,180,0.2)",
                                     line={"width": 0}, name="80 % band (mg/L)",
                                     hoverinfo="skip"), row=3, col=2)  # fmt: skip
        fig.add_trace(go.Scatter(x=days, y=traj["titer_mg_L"], mode="lines+markers",
                                 name="titer forecast trajectory (mg/L)",
                                 line={"color": "#1f77b4"}), row=3, col=2)  # fmt: skip
    h = float(pred["harvest_titer_mg_L"])
    at = float(traj["day"].iloc[-1]) if not traj.empty else d[-1]
    fig.add_trace(go.Scatter(
        x=[at], y=[h], mode="markers", marker={"symbol": "diamond", "size": 10, "color": "#d62728"},
        error_y={"type": "data", "symmetric": False,
                 "array": [float(pred["harvest_titer_p90_mg_L"]) - h],
                 "arrayminus": [h - float(pred["harvest_titer_p10_mg_L"])]},
        name=f"harvest forecast: {h:.0f} mg/L"), row=3, col=2)  # fmt: skip
    y = _y(rows, schema.TITER)
    if y is not None:
        ok = np.isfinite(y)
        fig.add_trace(go.Scatter(x=d[ok], y=y[ok], mode="markers", name="titer measured (mg/L)",
                                 marker={"color": "black", "size": 7}), row=3, col=2)  # fmt: skip
    fig.add_vline(x=d[-1], line_dash="dash", line_color="gray", row=3, col=2)


def mape_chart(mape: pd.DataFrame, noise_floor: float | None = None) -> go.Figure:
    """Harvest-titer MAPE (%) against the origin day, one line per model."""
    fig = go.Figure()
    days = [int(c.split()[1]) for c in mape.columns[1:]]
    for _, r in mape.iterrows():
        fig.add_trace(go.Scatter(x=days, y=list(r.iloc[1:]), mode="lines+markers", name=r["model"]))
    if noise_floor is not None:
        fig.add_hline(y=100 * noise_floor, line_dash="dot", annotation_text="assay-noise floor")
    fig.update_layout(title="Harvest-titer error by forecast origin", height=380,
                      xaxis_title="forecast made on culture day", yaxis_title="MAPE (%)")  # fmt: skip
    return fig


def anomaly_chart(table: pd.DataFrame) -> go.Figure:
    """Event recall, precision and F1 per detector (grouped bars, 0 to 1)."""
    fig = go.Figure()
    for m in ("event_recall", "precision", "f1"):
        if m in table.columns:
            fig.add_trace(go.Bar(x=table["detector"], y=table[m], name=m.replace("_", " ")))
    fig.update_layout(title="Alarms on the test batches", barmode="group", height=360,
                      yaxis_title="fraction (0-1)", yaxis_range=[0, 1.05])  # fmt: skip
    return fig


def compare_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], env: pd.DataFrame | None,
                   variable: str, x_label: str, k: float) -> go.Figure:  # fmt: skip
    """Batches overlaid on one aligned axis, over the golden-batch envelope.

    Args:
        curves: batch id -> (aligned x, values) at its rows with a value.
        env: from :func:`forecaster.serve.envelope.envelope`, or None.
        variable: canonical column (the y axis).
        x_label: the aligned axis with its unit.
        k: the envelope's width in standard deviations (for the legend).
    """
    fig = go.Figure()
    if env is not None and not env.empty:
        x = np.r_[env["x"], env["x"][::-1]]
        fig.add_trace(go.Scatter(x=x, y=np.r_[env["upper"], env["lower"][::-1]], fill="toself",
                                 fillcolor="rgba(44,160,44,0.18)", line={"width": 0}, hoverinfo="skip",
                                 name=f"golden envelope (mean ± {k:g} sd)"))  # fmt: skip
        fig.add_trace(go.Scatter(x=env["x"], y=env["mean"], name="golden mean",
                                 line={"color": "#2ca02c", "dash": "dash"}))  # fmt: skip
    offline = (
        schema.BY_NAME.get(variable) is not None and schema.variable(variable).role == "offline"
    )
    for bid, (x, y) in curves.items():
        fig.add_trace(
            go.Scatter(x=x, y=y, name=str(bid), mode="lines+markers" if offline else "lines")
        )
    fig.update_layout(title=f"{label(variable)} against {x_label}", height=480,
                      xaxis_title=x_label, yaxis_title=label(variable))  # fmt: skip
    return fig
