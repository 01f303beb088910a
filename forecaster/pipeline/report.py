"""``report.md``: the run's tables and figures for a human reader.

The product and the feed are named as the user's columns and units (``metrics["process"]``,
:func:`target_names`; CHO runs: titer in mg/L, feed in mL/h). Origin days are those the
metrics hold (days past the batches' end are dropped by the evaluation).
"""

from __future__ import annotations

from dataclasses import asdict

from forecaster.data.column_map import ColumnMap
from forecaster.data.io import atomic_write_text
from forecaster.data.process import Process
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.evaluate import LADDER_ORDER, ORIGIN_DAYS


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _num(x, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


#: how a CHO run names its targets (``metrics["process"]`` of older runs)
CHO_NAMES = {"product": "titer", "product_unit": "mg/L", "feed": "feed", "feed_unit": "mL/h",
             "has_feed": True}  # fmt: skip


def target_names(process: Process, column_map: ColumnMap | None = None) -> dict:
    """How the report names the product and the feed: the user's column and unit.

    Returns:
        ``{"product", "product_unit", "feed", "feed_unit", "has_feed", "product_variable",
        "feed_variable"}``; a CHO run without a column map gets :data:`CHO_NAMES`.
    """
    theirs = {ours: t for t, ours in (column_map.renames() if column_map else {}).items()}
    units = dict(column_map.units) if column_map else {}

    def named(var: str, default: str) -> tuple[str, str]:
        unit = units.get(var) or process.variable(var).unit
        name = theirs.get(var)
        if name is None:
            return default, unit
        return name, unit

    label = process.variable(process.product).label.lower() or process.product
    product, p_unit = named(process.product, label)
    out = {"product": product, "product_unit": p_unit, "has_feed": process.feed is not None,
           "product_variable": process.product, "feed_variable": process.feed}  # fmt: skip
    if process.feed is not None:
        out["feed"], out["feed_unit"] = named(process.feed, "feed")
    else:
        out["feed"], out["feed_unit"] = "feed", ""
    return out


def origin_days_of(t: dict) -> tuple[int, ...]:
    """Origin days in the metrics (the evaluation drops days past the batches' end)."""
    for name in ("chosen", "sequence", "rf", "naive_mean"):
        by_day = t.get(name, {}).get("harvest_mape_by_day")
        if by_day:
            return tuple(sorted(int(d) for d in by_day))
    return ORIGIN_DAYS


def ladder_lines(t: dict) -> list[str]:
    """What the tool gives and why: the rung per origin day, conformal coverage by level."""
    days = origin_days_of(t)
    chosen = t.get("chosen", {})
    out: list[str] = []
    if chosen.get("rung_by_day"):
        out += ["", "The forecast the tool gives (`chosen`), per origin day, is the rung with the "
                "lowest out-of-sample error, never worse there than the best naive rung: "
                + ", ".join(f"day {d}: {chosen['rung_by_day'][d]}"
                           for d in sorted(chosen["rung_by_day"], key=int)) + "."]  # fmt: skip
        out += ["`predict`, the dashboards, the app and `Monitor` serve it on running batches "
                "(`forecast/chosen.json`; `predictions.csv` `harvest_forecast_by`)."]  # fmt: skip
        out += [f"- {n}" for n in chosen.get("notes", [])]
        cov = chosen.get("coverage", {})
        if cov:
            out += ["", "| chosen: interval coverage (width % of forecast) | "
                    + " | ".join(f"day {d}" for d in days) + " |",
                    "|---|" + "---|" * len(days)]  # fmt: skip
            width = chosen.get("width_pct", {})
            for level, by_day in cov.items():
                cells = [f"{_num(by_day.get(str(d)))} ({_num(width.get(level, {}).get(str(d)), '.0f')})"
                         for d in days]  # fmt: skip
                out.append(f"| {level} % | " + " | ".join(cells) + " |")
    elif t.get("ladder", {}).get("note"):
        out += ["", f"- {t['ladder']['note']}"]
    for rung, why in (t.get("ladder", {}).get("skipped") or {}).items():
        out.append(f"- {rung} skipped: {why}")
    dropped = t.get("origin_days_dropped")
    if dropped:
        out.append(
            f"- origin days dropped: {', '.join(map(str, dropped['days']))} ({dropped['reason']})"
        )
    return out


def forecast_section(metrics: dict, available: set[str] | None = None) -> str:
    """Forecast tables; links only the figures in ``available`` (names without .png)."""
    available = available if available is not None else set()
    t, f = metrics.get("titer", {}), metrics.get("feed", {})
    names = {**CHO_NAMES, **(metrics.get("process") or {})}
    days, has_feed = origin_days_of(t), bool(names["has_feed"])
    product = names["product"]
    if product != CHO_NAMES["product"] and names["product_unit"] not in product:
        product = f"{product} ({names['product_unit']})"
    lines = ["## Forecasts (normal test batches, never seen in training)", ""]
    if names["product"] != CHO_NAMES["product"]:
        feed = f"{names['feed']} ({names['feed_unit']})" if has_feed else "none"
        lines += [f"Product: harvest {product}; feed: {feed}. MAPE of the harvest forecast by "
                  "the day it was made.", ""]  # fmt: skip
    if not has_feed:
        lines += [f"Feed: {f.get('note') or 'no feed to recommend'}.", ""]
    elif (f.get("recipe") or {}).get("sentence"):
        lines += [f"Feed: {f['recipe']['sentence']}.", ""]
    feed_head = f"| feed R² | feed RMSE ({names['feed_unit']}) " if has_feed else ""
    lines += [f"| model {feed_head}| " + " | ".join(f"MAPE day {d}" for d in days) + " |"]
    lines += ["|---|" + ("---|---|" if has_feed else "") + "---|" * len(days)]
    for name in LADDER_ORDER:
        if name not in f and "harvest_mape_by_day" not in t.get(name, {}):
            continue
        m = t.get(name, {}).get("harvest_mape_by_day", {})
        fm = f.get(name, {})
        feed_cells = f"| {_num(fm.get('r2'))} | {_num(fm.get('rmse'), '.2f')} " if has_feed else ""
        lines.append(
            f"| {name} {feed_cells}| " + " | ".join(_pct(m.get(str(d))) for d in days) + " |"
        )
    seq = t.get("sequence", {})
    lines += ladder_lines(t)
    lines += [
        "",
        f"- Harvest-{product} R² by origin day (sequence): "
        + ", ".join(f"day {d}: {_num(seq.get('harvest_r2_by_day', {}).get(str(d)))}" for d in days),
        f"- 80 % interval coverage (sequence, all origin days): {_num(seq.get('pi80_coverage'))}",
        f"- Assay-noise floor of the harvest-{product} MAPE: {_pct(t.get('noise_floor_mape'))} "
        "(a perfect model still shows this error, because it is scored against a noisy assay)",
        "",
    ]
    fb = metrics.get("faulty_batches", {})
    if has_feed and fb.get("feed"):
        lines += ["### Faulty test batches (scored separately)", ""]
        for name in ("sequence", "rf"):
            if name in fb["feed"]:
                m = fb["titer"].get(name, {}).get("harvest_mape_by_day", {})
                lines.append(
                    f"- {name}: feed R² {_num(fb['feed'][name].get('r2'))}, harvest MAPE "
                    + ", ".join(f"day {d} {_pct(m.get(str(d)))}" for d in days)
                )
        lines.append("")
    figures = (
        ("MAPE by origin day", "forecast_mape_by_day"),
        ("Example forecasts", "forecast_examples"),
        ("Parity at day 7", "forecast_parity_day7"),
    )
    lines += [f"![{title}](figures/{name}.png)" for title, name in figures if name in available]
    return "\n".join(lines + [""])


def variability_section(sim) -> list[str]:
    """The simulator's batch-to-batch variability, as drawn (mean, CV, clipping range)."""
    lines = [
        "## Simulated data: batch-to-batch variability",
        "",
        "Each batch draws these from clipped normal distributions (ranges from the CHO",
        "fed-batch literature as summarised in `forecaster/sim/config.py`; kinetic form after",
        "Xing et al. 2010, Biotechnol Prog 26:208). The forecasts are scored against this spread;",
        "it was not narrowed to make forecasting easier.",
        "",
        "| parameter | mean | CV | range |",
        "|---|---|---|---|",
    ]
    var = asdict(sim).get("variability", {})
    for name, d in var.items():
        if isinstance(d, dict) and "mean" in d:
            lines.append(
                f"| {name} | {d['mean']:g} | {d.get('cv', 0):g} | {d.get('lo', '')}-{d.get('hi', '')} |"
            )
    faults = asdict(sim).get("faults", {})
    lines += ["", f"Faults: a batch gets one with probability {faults.get('rate')}.", ""]
    return lines


def _stop_reason(info: dict) -> str:
    """Why the forecaster's training ended, in words."""
    if info.get("stopped_early"):
        return "early stopping on the validation batches"
    return f"epoch limit {info.get('epoch_limit', info.get('epochs'))}"


def write_report(ctx: RunContext, metrics: dict) -> None:
    d = metrics.get("data", {})
    head = [
        f"# Run report: {ctx.cfg.run_name}",
        "",
        f"- Data: {d.get('source')}, {d.get('n_batches')} batches "
        f"({d.get('n_faulty_batches')} with faults); split train/val/test "
        f"{d.get('n_train_batches')}/{d.get('n_val_batches')}/{d.get('n_test_batches')} batches, seed {ctx.seed}.",
        f"- Forecaster: {ctx.cfg.model.cell.upper()} {ctx.cfg.model.num_layers}x{ctx.cfg.model.hidden_size}, "
        f"{metrics.get('forecast_training', {}).get('epochs')} epochs "
        f"({metrics.get('forecast_training', {}).get('steps')} optimiser steps, "
        f"{_stop_reason(metrics.get('forecast_training', {}))}), trained on "
        f"{'all' if ctx.cfg.data.train_on_faulty else 'fault-free'} training batches.",
        f"- Total time: {_num(metrics.get('timing', {}).get('train_s'), '.0f')} s.",
        "",
    ]
    if d.get("warning"):
        head[-1:-1] = [f"- **Warning:** {d['warning']}."]
    if metrics.get("forecast_training", {}).get("warning"):
        head[-1:-1] = [f"- **Warning:** {metrics['forecast_training']['warning']}."]
    if ctx.sim is not None:
        head += variability_section(ctx.sim)
    figs = {p.stem for p in ctx.figure_dir().glob("*.png")}
    body = [forecast_section(metrics, figs)] + list(ctx.report)
    atomic_write_text(ctx.run_dir / "report.md", "\n".join(head + body) + "\n")
