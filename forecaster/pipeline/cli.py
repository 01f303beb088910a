"""Command line of ``train.py``: parse the config, run, print the results table."""

from __future__ import annotations

import sys

from forecaster.cli import cli_main
from forecaster.pipeline.evaluate import LADDER_ORDER
from forecaster.pipeline.report import origin_days_of


def results_table(metrics: dict) -> str:
    """A short plain-text summary of the headline metrics."""
    rows = []
    f, t = metrics.get("feed", {}), metrics.get("titer", {})

    def fmt(x, pct=False):
        if x is None:
            return "n/a"
        return f"{100 * x:.1f}%" if pct else f"{x:.3f}"

    days = origin_days_of(t)
    feed_col = "note" not in f  # a process without a feed has no feed metrics
    w = 14 if "ridge_summary" in t else 12
    head = f"{'model':<{w}}" + (f"{'feed R2':>7}" if feed_col else "")
    rows.append(head + "".join(f"{'MAPE d' + str(d):>10}" for d in days))
    for name in LADDER_ORDER:
        if name in f or isinstance(t.get(name), dict) and "harvest_mape_by_day" in t[name]:
            m = t.get(name, {}).get("harvest_mape_by_day", {})
            feed = f"{fmt(f.get(name, {}).get('r2')):>7}" if feed_col else ""
            rows.append(
                f"{name:<{w}}{feed}" + "".join(f"{fmt(m.get(str(d)), True):>10}" for d in days)
            )
    if not feed_col:
        rows.append(f"feed: {f['note']}")
    picked = t.get("chosen", {}).get("rung_by_day")
    if picked:
        rows.append(
            "chosen = " + ", ".join(f"day {d}: {picked[d]}" for d in sorted(picked, key=int))
        )
    cov = t.get("sequence", {}).get("pi80_coverage")
    rows.append(
        f"PI80 coverage {fmt(cov)}; assay-noise floor MAPE {fmt(t.get('noise_floor_mape'), True)}"
    )
    an = metrics.get("anomaly", {}).get("combined")
    if isinstance(an, dict) and "event_recall" in an:
        rows.append(
            f"anomaly (combined): recall {fmt(an.get('event_recall'))}, precision {fmt(an.get('precision'))}, "
            f"false alarms/100 batch-days {fmt(an.get('false_alarms_per_100_batch_days'))}"
        )
    return "\n".join(rows)


def quiet_lightning() -> None:
    """Keep the console to our progress lines: no tips, no device banners, no
    deprecation notices from inside Lightning."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
    # our own warnings (e.g. faulty batches excluded from calibration) as one plain line
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"


def _main(argv: list[str] | None = None, prog: str = "train.py") -> int:
    from forecaster.pipeline.config import parse_config

    cfg, yaml_text = parse_config(sys.argv[1:] if argv is None else argv, prog)
    quiet_lightning()
    from forecaster.pipeline.train import run

    run_dir, metrics = run(cfg, yaml_text)
    print()
    print(results_table(metrics))
    print(
        f"\nrun folder: {run_dir}   (report: {run_dir / 'report.md'}; tensorboard --logdir {cfg.output_dir})"
    )
    return 0


def main(argv: list[str] | None = None, prog: str = "train.py") -> None:
    """``train.py`` / ``forecaster train``: exits 0, or 2 with one line on a user error."""
    cli_main(lambda: _main(argv, prog))
