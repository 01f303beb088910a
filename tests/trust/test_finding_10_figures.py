"""Issue #14, finding 10: figures a plant can read.

The trial found anomaly plots without y-labels or units, alarm colours not keyed to
detectors, a score legend over the data, glucose, VCD and viability on one axis (glucose and
VCD flattened near zero) and an attribution heatmap whose day 11 sat above day 10.6 of the
signals under it. The anomaly batch figure has its own test
(``tests/anomaly/test_trial_findings.py``); these cover the dashboard, the attribution
heatmap, the forecast figure and the key-factors figure, each drawn on tiny data.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from forecaster import schema  # noqa: E402
from forecaster.anomaly.events import AlarmEvent  # noqa: E402
from forecaster.anomaly.plots import detector_color  # noqa: E402

#: a unit in brackets at the end of a label: "VCD (1e6 cells/mL)", "pH (-)"
UNIT = re.compile(r"\(.+\)\s*$")


def _drawn(fig):
    """Lay the figure out (as saving it would), so extents are final."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def _plot_axes(fig):
    """Axes that show data (not switched off, not a colour bar)."""
    return [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>" and ax.lines]


def _legend_clear_of_data(ax) -> bool:
    """The axes' legend (if any) lies wholly outside the axes' data area."""
    leg = ax.get_legend()
    if leg is None:
        return True
    lb, ab = leg.get_window_extent(), ax.get_window_extent()
    return lb.y1 <= ab.y0 + 1 or lb.x0 >= ab.x1 - 1 or lb.y0 >= ab.y1 - 1 or lb.x1 <= ab.x0 + 1


def _line_axes(fig, label: str):
    found = [ax for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == label]
    assert len(found) == 1, (label, len(found))
    return found[0]


@pytest.fixture(scope="module")
def dashboard(loaded_run, new_table):
    from forecaster.serve.dashboard import dashboard_figure
    from forecaster.serve.predict import predict_table

    one = new_table[new_table[schema.BATCH_ID] == "B0001"]
    res = predict_table(loaded_run, one, attributions=False, alarms=False)
    events = [
        AlarmEvent("B0001", "rules", 60.0, 61.0, 80.0, 2.0, 1.0, "do_low", reason="DO low"),
        AlarmEvent("B0001", "autoencoder", 100.0, 101.0, 120.0, 3.0, 1.0, reason="odd"),
    ]
    fig = dashboard_figure(res.batches["B0001"], res.steps["B0001"], events, res.quantiles)
    return _drawn(fig), events


def test_dashboard_labels_every_axis_with_its_unit(dashboard):
    fig, _ = dashboard
    axes = _plot_axes(fig)
    assert len(axes) >= 9  # six panels, three of them with a second (right) axis
    for ax in axes:
        assert UNIT.search(ax.get_ylabel()), f"{ax.get_title()!r}: {ax.get_ylabel()!r}"
        assert ax.get_xlabel() in ("culture day", "")  # twins share their panel's x label


def test_dashboard_puts_quantities_of_different_scale_on_separate_axes(dashboard):
    fig, _ = dashboard
    vcd, via = _line_axes(fig, "VCD"), _line_axes(fig, "viability")
    glc, lac = _line_axes(fig, "glucose"), _line_axes(fig, "lactate")
    assert len({vcd, via, glc, lac}) == 4  # none of them squashed onto another's scale
    assert "1e6 cells/mL" in vcd.get_ylabel() and "%" in via.get_ylabel()
    assert "g/L" in glc.get_ylabel()
    # the VCD curve uses its axis' height: it is not flattened near zero
    y = next(ln for ln in vcd.get_lines() if ln.get_label() == "VCD").get_ydata()
    lo, hi = vcd.get_ylim()
    assert (np.nanmax(y) - np.nanmin(y)) / (hi - lo) > 0.5


def test_dashboard_legends_sit_outside_the_data(dashboard):
    fig, _ = dashboard
    legends = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) >= 6
    for ax in legends:
        assert _legend_clear_of_data(ax), ax.get_title()


def test_dashboard_alarm_windows_take_their_detectors_colour(dashboard):
    fig, events = dashboard
    for ax in [a for a in _plot_axes(fig) if a.get_title()]:  # the six panels
        spans = {}
        for p in ax.patches:
            x0 = p.get_bbox().x0
            spans[round(float(x0), 3)] = to_rgb(p.get_facecolor())
        for e in events:
            assert spans.get(round(e.start_h / 24.0, 3)) == to_rgb(detector_color(e.detector))
    assert detector_color("rules") != detector_color("autoencoder")
    keyed = {t.get_text() for lg in fig.legends for t in lg.get_texts()}
    assert keyed == {f"{e.detector} alarm" for e in events}  # the colours are keyed


def _attribution(time_h: np.ndarray, variables: list[str]):
    from forecaster.explain.result import AttributionResult

    rng = np.random.default_rng(0)
    vals = rng.normal(size=(len(time_h), len(variables)))
    return AttributionResult(
        batch_id="B1", target="titer", method="ig", origin_h=float(time_h[-1]),
        time_h=time_h, variables=variables, values=vals, magnitude=np.abs(vals),
    )  # fmt: skip


def test_heatmap_cells_are_centred_on_their_rows_and_share_the_signals_day_axis():
    from forecaster.explain.plots import heatmap_figure

    # hourly rows, then a gap and a few 6-hourly rows: an irregular grid up to day 11.5
    t = np.concatenate([np.arange(0.0, 240.0), np.arange(246.0, 277.0, 6.0)])
    variables = ["do_pct", "ph", "titer_mg_L"]
    rows = pd.DataFrame({schema.BATCH_ID: "B1", schema.TIME: t, "do_pct": 40.0 + np.sin(t),
                         "ph": 7.0 + 0.01 * np.cos(t), "titer_mg_L": 10.0 * t})  # fmt: skip
    fig = _drawn(heatmap_figure(_attribution(t, variables), rows, n_signals=3))
    heat, *_ = [ax for ax in fig.axes if ax.collections and ax.get_label() != "<colorbar>"]
    mesh = heat.collections[0]
    edges = mesh.get_coordinates()[0, :, 0]  # x edges of the first row of cells
    days = t / 24.0
    # each row's cell holds its time, and borders lie halfway between neighbouring rows
    assert (edges[:-1] < days).all() and (days < edges[1:]).all()
    np.testing.assert_allclose(edges[1:-1], (days[1:] + days[:-1]) / 2.0)
    regular = slice(1, 239)  # hourly stretch: each cell centred on its row
    np.testing.assert_allclose(((edges[:-1] + edges[1:]) / 2.0)[regular], days[regular])
    sig = [ax for ax in fig.axes if ax.lines]
    assert len(sig) == 3
    hb = heat.get_window_extent()
    for ax in sig:  # same width and place on the page, and the same day at the same pixel
        sb = ax.get_window_extent()
        assert abs(sb.x0 - hb.x0) < 1.0 and abs(sb.x1 - hb.x1) < 1.0
        for day in (1.0, 10.6, 11.0):
            px_heat = heat.transData.transform((day, 0.0))[0]
            px_sig = ax.transData.transform((day, 0.0))[0]
            assert abs(px_heat - px_sig) < 1.0, day
        assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()


def test_forecast_figure_labels_units_and_keeps_legends_below(loaded_run, new_table):
    from forecaster.pipeline.figures import forecast_figure

    batches = [g for _, g in new_table.groupby(schema.BATCH_ID)][:2]
    fig = _drawn(forecast_figure(loaded_run.model, batches))
    axes = _plot_axes(fig)
    assert len(axes) == 4  # product and feed rows, one column per batch
    for ax in axes:
        assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()
        assert _legend_clear_of_data(ax)
    assert {ax.get_ylabel() for ax in axes} == {"titer (mg/L)", "feed rate (mL/h)"}


def test_key_factors_figure_names_units_on_every_bar_and_effect_axis():
    from forecaster.optimize.plots import key_factors_figure

    kf = pd.DataFrame({
        "factor": ["seed_vcd", "temp_shift_h"] * 2,
        "label": ["Seed VCD", "Temperature shift"] * 2,
        "unit": ["1e6 cells/mL", "h"] * 2,
        "method": ["permutation"] * 2 + ["pls_vip"] * 2,
        "importance": [0.3, 0.1, 1.4, 0.7],
        "ci_lo": [0.2, 0.0, 1.1, 0.5],
        "ci_hi": [0.4, 0.2, 1.7, 0.9],
        "rank": [1, 2, 1, 2],
    })  # fmt: skip
    curves = pd.DataFrame({"factor": "seed_vcd", "value": [0.3, 0.5, 0.7],
                           "titer": [1.0, 1.2, 1.3], "titer_lo": [0.9, 1.1, 1.2],
                           "titer_hi": [1.1, 1.3, 1.4]})  # fmt: skip
    fig = _drawn(key_factors_figure(kf, curves, "titer", "g/L"))
    bars = [ax for ax in fig.axes if ax.axison and ax.patches]
    assert len(bars) == 2
    for ax in bars:
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert sorted(labels) == ["Seed VCD (1e6 cells/mL)", "Temperature shift (h)"]
    (effect,) = [ax for ax in fig.axes if ax.axison and ax.lines and not ax.patches]
    assert effect.get_xlabel() == "Seed VCD (1e6 cells/mL)"
    assert effect.get_ylabel() == "predicted harvest titer (g/L)"
