"""``report.md``: the run's tables and figures for a human reader."""

from __future__ import annotations

from dataclasses import asdict

from forecaster.data.io import atomic_write_text
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.evaluate import LADDER_ORDER, ORIGIN_DAYS


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _num(x, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def ladder_lines(t: dict) -> list[str]:
    """What the tool gives and why: the rung per origin day, conformal coverage by level."""
    chosen = t.get("chosen", {})
    out: list[str] = []
    if chosen.get("rung_by_day"):
        out += ["", "The forecast the tool gives (`chosen`), per origin day, is the rung with the "
                "lowest out-of-sample error, never worse there than the best naive rung: "
                + ", ".join(f"day {d}: {chosen['rung_by_day'][d]}"
                           for d in sorted(chosen["rung_by_day"], key=int)) + "."]  # fmt: skip
        out += [f"- {n}" for n in chosen.get("notes", [])]
        cov = chosen.get("coverage", {})
        if cov:
            out += ["", "| chosen: interval coverage (width % of forecast) | "
                    + " | ".join(f"day {d}" for d in ORIGIN_DAYS) + " |",
                    "|---|" + "---|" * len(ORIGIN_DAYS)]  # fmt: skip
            width = chosen.get("width_pct", {})
            for level, by_day in cov.items():
                cells = [f"{_num(by_day.get(str(d)))} ({_num(width.get(level, {}).get(str(d)), '.0f')})"
                         for d in ORIGIN_DAYS]  # fmt: skip
                out.append(f"| {level} % | " + " | ".join(cells) + " |")
    elif t.get("ladder", {}).get("note"):
        out += ["", f"- {t['ladder']['note']}"]
    return out


def forecast_section(metrics: dict, available: set[str] | None = None) -> str:
    """Forecast tables; links only the figures in ``available`` (names without .png)."""
    available = available if available is not None else set()
    t, f = metrics.get("titer", {}), metrics.get("feed", {})
    lines = ["## Forecasts (normal test batches, never seen in training)", ""]
    lines += [
        "| model | feed R² | feed RMSE (mL/h) | "
        + " | ".join(f"MAPE day {d}" for d in ORIGIN_DAYS)
        + " |"
    ]
    lines += ["|---|---|---|" + "---|" * len(ORIGIN_DAYS)]
    for name in LADDER_ORDER:
        if name not in f and "harvest_mape_by_day" not in t.get(name, {}):
            continue
        m = t.get(name, {}).get("harvest_mape_by_day", {})
        lines.append(
            f"| {name} | {_num(f.get(name, {}).get('r2'))} | {_num(f.get(name, {}).get('rmse'), '.2f')} | "
            + " | ".join(_pct(m.get(str(d))) for d in ORIGIN_DAYS)
            + " |"
        )
    seq = t.get("sequence", {})
    lines += ladder_lines(t)
    lines += [
        "",
        "- Harvest-titer R² by origin day (sequence): "
        + ", ".join(
            f"day {d}: {_num(seq.get('harvest_r2_by_day', {}).get(str(d)))}" for d in ORIGIN_DAYS
        ),
        f"- 80 % interval coverage (sequence, all origin days): {_num(seq.get('pi80_coverage'))}",
        f"- Assay-noise floor of the harvest-titer MAPE: {_pct(t.get('noise_floor_mape'))} "
        "(a perfect model still shows this error, because it is scored against a noisy assay)",
        "",
    ]
    fb = metrics.get("faulty_batches", {})
    if fb.get("feed"):
        lines += ["### Faulty test batches (scored separately)", ""]
        for name in ("sequence", "rf"):
            if name in fb["feed"]:
                m = fb["titer"].get(name, {}).get("harvest_mape_by_day", {})
                lines.append(
                    f"- {name}: feed R² {_num(fb['feed'][name].get('r2'))}, harvest MAPE "
                    + ", ".join(f"day {d} {_pct(m.get(str(d)))}" for d in ORIGIN_DAYS)
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


def write_report(ctx: RunContext, metrics: dict) -> None:
    d = metrics.get("data", {})
    head = [
        f"# Run report: {ctx.cfg.run_name}",
        "",
        f"- Data: {d.get('source')}, {d.get('n_batches')} batches "
        f"({d.get('n_faulty_batches')} with faults); split train/val/test "
        f"{d.get('n_train_batches')}/{d.get('n_val_batches')}/{d.get('n_test_batches')} batches, seed {ctx.seed}.",
        f"- Forecaster: {ctx.cfg.model.cell.upper()} {ctx.cfg.model.num_layers}x{ctx.cfg.model.hidden_size}, "
        f"{metrics.get('forecast_training', {}).get('epochs')} epochs, trained on "
        f"{'all' if ctx.cfg.data.train_on_faulty else 'fault-free'} training batches.",
        f"- Total time: {_num(metrics.get('timing', {}).get('train_s'), '.0f')} s.",
        "",
    ]
    if d.get("warning"):
        head[-1:-1] = [f"- **Warning:** {d['warning']}."]
    if ctx.sim is not None:
        head += variability_section(ctx.sim)
    figs = {p.stem for p in ctx.figure_dir().glob("*.png")}
    body = [forecast_section(metrics, figs)] + list(ctx.report)
    atomic_write_text(ctx.run_dir / "report.md", "\n".join(head + body) + "\n")
