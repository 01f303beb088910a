"""Interval coverage of the served harvest forecast, measured on many fresh batches.

    python benchmarks/bench_coverage.py --run checkpoints/default --n_batches 500
    python benchmarks/bench_coverage.py --run checkpoints/default --rebuild /tmp/cov_run

A run's own test batches (73 on the default run) give a coverage figure a binomial sd of
about 4.7 points at 80 %, too coarse to check "within 3 points of nominal". This benchmark
simulates ``--n_batches`` fresh fault-free batches with the run's simulator config and a seed
the run never saw, cuts each at the origin days 3 / 5 / 7 / 10 (the rows a forecast made
then sees), and serves every prefix through what ``python -m forecaster.predict`` runs:
:func:`forecaster.serve.run_folder.load_run` and :func:`forecaster.serve.predict.
predict_table` (``forecast/chosen.json`` through :mod:`forecaster.serve.chosen`). The served
80 % interval is read from the predictions; the 90 and 95 % ones are the same choice's
conformal intervals around the same median (``ChosenForecast.calibration``; the served 80 %
interval is checked to be that calibration's). The sequence model's own quantile band is
scored beside it (one network pass per batch).

Per level (80 / 90 / 95 %) and origin day: coverage, mean width (% of the forecast), the
binomial sd of the coverage figure at nominal, and the spread that calibrating on the run's
``n`` calibration batches alone gives (the sd of the coverage of a split-conformal quantile
of ``n`` exchangeable scores: Beta(k, n + 1 - k), k = ceil((n + 1) level)).

``--rebuild DIR`` first copies the run folder to ``DIR`` (never into the run folder) and
rebuilds its ladder and ``forecast/chosen.json`` there with this checkout's ladder and
calibration (:func:`forecaster.pipeline.ladder_rebuild.rebuild_ladder`), then measures the
copy (``chosen``) beside the run as trained (``chosen_as_trained``) on the same batches.

Writes ``benchmarks/results/coverage.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DAYS = (3, 5, 7, 10)
LEVELS = (0.8, 0.9, 0.95)
#: the issue's bar: coverage within this many points of nominal at every level and day
BAR_POINTS = 3.0


def fresh_batches(run_dir: Path, n_batches: int, seed: int) -> pd.DataFrame:
    """``n_batches`` fault-free batches simulated with the run's simulator config and ``seed``.

    Raises:
        SystemExit: the run was trained on a user's file, not on simulated data.
    """
    from forecaster.pipeline.config import load_config_file
    from forecaster.sim import simulate

    cfg, _ = load_config_file(run_dir / "config.yaml")
    if cfg.data.path:
        sys.exit(f"error: {run_dir} was trained on {cfg.data.path}; this benchmark simulates "
                 "fresh batches, so it needs a run trained on simulated data")  # fmt: skip
    if seed == cfg.seed:
        sys.exit(f"error: --seed {seed} is the run's own seed; use one it never saw")
    sim_cfg = copy.deepcopy(cfg.sim)
    sim_cfg.faults.rate = 0.0
    t = simulate(sim_cfg, n_batches=n_batches, seed=seed).table
    return t.drop(columns=[c for c in t.columns if c.startswith("policy_")])


def origin_prefixes(
    table: pd.DataFrame, days: tuple[int, ...], product: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each batch cut at each origin day it runs past, as its own batch ``<id>@d<day>``.

    Returns:
        ``(prefix table, cases)``: cases has one row per prefix (``prefix_id``,
        ``batch_id``, ``day``, ``y``: the batch's measured harvest product).
    """
    from forecaster import schema
    from forecaster.data import targets
    from forecaster.models.ladder.protocol import upto

    parts, cases = [], []
    for bid, g in table.groupby(schema.BATCH_ID, sort=True):
        g = g.sort_values(schema.TIME)
        y = targets.harvest_titer(g, product)
        end = float(g[schema.TIME].iloc[-1])
        for d in days:
            if not np.isfinite(y) or end <= 24.0 * d + 1e-9:
                continue
            pid = f"{bid}@d{d}"
            parts.append(upto(g, 24.0 * d).assign(**{schema.BATCH_ID: pid}))
            cases.append((pid, str(bid), str(d), y))
    cols = ["prefix_id", "batch_id", "day", "y"]
    return pd.concat(parts, ignore_index=True), pd.DataFrame(cases, columns=cols)


def calibration_sd(n: int, level: float) -> float:
    """sd of the coverage of a split-conformal interval calibrated on ``n`` exchangeable
    scores (Beta(k, n + 1 - k), k = ceil((n + 1) level)); NaN when the level is unmet."""
    k = math.ceil((n + 1) * level - 1e-9)
    if n <= 0 or k > n:
        return float("nan")
    a, b = k, n + 1 - k
    return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))


def score_intervals(
    y: np.ndarray, lo: np.ndarray, p50: np.ndarray, hi: np.ndarray
) -> tuple[float, float]:
    """``(coverage, mean width in % of p50)`` of intervals ``[lo, hi]`` (all ``(m,)``)."""
    inside = (lo <= y) & (y <= hi)
    return float(inside.mean()), float(100.0 * np.mean((hi - lo) / p50))


def served(run, prefixes: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The served forecast of every prefix: ``cases`` plus ``p50`` and ``lo_<lv>`` /
    ``hi_<lv>`` per level (80: as served; 90 / 95: the same choice's calibration)."""
    from forecaster import schema
    from forecaster.serve.predict import predict_table

    res = predict_table(run, prefixes, attributions=False, alarms=False, progress=False)
    if res.problems:
        sys.exit(f"error: {len(res.problems)} prefixes refused, e.g. {res.problems[0]}")
    pred = res.predictions.set_index(schema.BATCH_ID).loc[cases["prefix_id"]]
    out = cases.copy()
    out["p50"] = pred["harvest_titer_mg_L"].to_numpy(float)
    out["served_lo"] = pred["harvest_titer_p10_mg_L"].to_numpy(float)
    out["served_hi"] = pred["harvest_titer_p90_mg_L"].to_numpy(float)
    out["served_by"] = pred["harvest_forecast_by"].to_numpy()
    chosen = run.choice.chosen
    for lv in LEVELS:
        lo, hi = np.full(len(out), np.nan), np.full(len(out), np.nan)
        for d in DAYS:
            m = (out["day"] == str(d)).to_numpy()
            if m.any() and chosen.calibration.met(str(d), lv):
                lo[m], hi[m] = chosen.calibration.interval(out.loc[m, "p50"].to_numpy(), str(d), lv)
        out[f"lo_{lv}"], out[f"hi_{lv}"] = lo, hi
    return out


def sequence_own(run, table: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The sequence model's own quantiles at each case's origin: ``(m, Q)`` columns ``q<i>``."""
    from forecaster import schema

    batches = [g.sort_values(schema.TIME) for _, g in table.groupby(schema.BATCH_ID, sort=True)]
    outs = dict(zip([str(g[schema.BATCH_ID].iloc[0]) for g in batches],
                    run.model.step_outputs(batches)))  # fmt: skip
    rows = []
    for bid, d in zip(cases["batch_id"], cases["day"]):
        s = outs[bid]
        r = int(np.flatnonzero(np.asarray(s["time_h"], float) <= 24.0 * int(d) + 1e-9)[-1])
        rows.append(np.sort(np.asarray(s["harvest"][r], dtype=float)))
    q = np.asarray(rows)
    return pd.DataFrame(q, columns=[f"q{i}" for i in range(q.shape[1])])


def summarise(cases: pd.DataFrame, intervals: dict[float, tuple[str, str]], cal_n=None) -> dict:
    """Coverage, width, binomial sd and the gap to nominal per level and day."""
    out: dict = {k: {} for k in ("coverage", "width_pct", "gap_points", "binomial_sd")}
    out["n_cases"] = {str(d): int((cases["day"] == str(d)).sum()) for d in DAYS}
    out["harvest_mape_by_day"] = {}
    if cal_n is not None:
        out["calibration_n"] = {str(d): int(cal_n.get(str(d), 0)) for d in DAYS}
        out["calibration_sd"] = {}
    for d in DAYS:
        c = cases[cases["day"] == str(d)]
        out["harvest_mape_by_day"][str(d)] = float(np.mean(np.abs(c["p50"] / c["y"] - 1.0)))
    for lv, (lo, hi) in intervals.items():
        key = f"{100 * lv:g}"
        for k in ("coverage", "width_pct", "gap_points", "binomial_sd"):
            out[k][key] = {}
        if cal_n is not None:
            out["calibration_sd"][key] = {}
        for d in DAYS:
            c = cases[cases["day"] == str(d)]
            if not len(c) or not np.isfinite(c[lo]).all():
                continue
            cov, width = score_intervals(*(c[k].to_numpy(float) for k in ("y", lo, "p50", hi)))
            out["coverage"][key][str(d)] = cov
            out["width_pct"][key][str(d)] = width
            out["gap_points"][key][str(d)] = 100.0 * (cov - lv)
            out["binomial_sd"][key][str(d)] = math.sqrt(lv * (1 - lv) / len(c))
            if cal_n is not None:
                out["calibration_sd"][key][str(d)] = calibration_sd(cal_n.get(str(d), 0), lv)
    gaps = [abs(v) for per in out["gap_points"].values() for v in per.values()]
    out["max_abs_gap_points"] = max(gaps) if gaps else float("nan")
    out["within_bar"] = bool(gaps) and max(gaps) <= BAR_POINTS
    return out


def served_block(run, prefixes: pd.DataFrame, cases: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """Coverage block of one run folder's served choice, and its per-prefix forecasts."""
    t0 = time.perf_counter()
    cases = served(run, prefixes, cases)
    # the served 80 % interval is the calibration's (relative difference)
    ok = np.isfinite(cases["lo_0.8"])
    check = float(np.max(np.abs(cases.loc[ok, ["served_lo", "served_hi"]].to_numpy()
                                / cases.loc[ok, ["lo_0.8", "hi_0.8"]].to_numpy() - 1.0),
                         initial=0.0))  # fmt: skip
    chosen = run.choice.chosen
    block = summarise(cases, {lv: (f"lo_{lv}", f"hi_{lv}") for lv in LEVELS}, chosen.calibration.n)
    block["rung_by_day"] = {str(d): chosen.rung_by_day.get(str(d)) for d in DAYS}
    block["served_80_vs_calibration_max_rel_diff"] = check
    block["serve_s"] = round(time.perf_counter() - t0, 1)
    return block, cases


def measure(runs: dict[str, Path], n_batches: int, seed: int) -> dict:
    """The benchmark on one or more run folders with the same sequence model (a run and its
    rebuilt copy), on the same fresh batches: ``{label: block}``, ``sequence_own_quantiles``,
    ``seconds``."""
    from forecaster.serve.run_folder import load_run

    loaded = {k: load_run(v) for k, v in runs.items()}
    for k, run in loaded.items():
        if run.choice is None:
            sys.exit(f"error: {runs[k]} has no forecast/chosen.json (no ladder choice to measure)")
    first = next(iter(loaded.values()))
    t0 = time.perf_counter()
    table = fresh_batches(next(iter(runs.values())), n_batches, seed)
    prefixes, cases = origin_prefixes(table, DAYS, first.choice.chosen.product)
    out: dict = {"seconds": {"simulate": round(time.perf_counter() - t0, 1)}}
    for k, run in loaded.items():
        out[k], _ = served_block(run, prefixes, cases)
    t0 = time.perf_counter()
    q = sequence_own(first, table, cases)
    quantiles = [float(x) for x in first.model.net.quantiles]
    seq_cases = cases[["day", "y"]].assign(p50=q[f"q{quantiles.index(0.5)}"].to_numpy())
    own = {}
    for lv in LEVELS:
        lo_q, hi_q = round((1 - lv) / 2, 6), round((1 + lv) / 2, 6)
        hit = [i for i, x in enumerate(quantiles) if abs(x - lo_q) < 1e-6]
        top = [i for i, x in enumerate(quantiles) if abs(x - hi_q) < 1e-6]
        if hit and top:
            seq_cases[f"lo_{lv}"], seq_cases[f"hi_{lv}"] = q[f"q{hit[0]}"], q[f"q{top[0]}"]
            own[lv] = (f"lo_{lv}", f"hi_{lv}")
    out["sequence_own_quantiles"] = summarise(seq_cases, own) | {"quantiles": quantiles}
    out["seconds"]["sequence_own"] = round(time.perf_counter() - t0, 1)
    return out


def _print_table(name: str, block: dict) -> None:
    print(f"\n{name}: coverage % (width % of forecast) by origin day", file=sys.stderr)
    print("level " + "".join(f"{'day ' + str(d):>18}" for d in DAYS), file=sys.stderr)
    for key, per in block["coverage"].items():
        cells = [f"{100 * per[str(d)]:6.1f} ({block['width_pct'][key][str(d)]:5.1f})"
                 if str(d) in per else "-" for d in DAYS]  # fmt: skip
        print(f"{key:>4} % " + "".join(f"{c:>18}" for c in cells), file=sys.stderr)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=ROOT / "checkpoints" / "default")
    p.add_argument("--n_batches", type=int, default=500)
    p.add_argument("--seed", type=int, default=4242, help="simulation seed (not the run's)")
    p.add_argument("--rebuild", type=Path, default=None,
                   help="copy the run here and rebuild its ladder first (never the run itself)")  # fmt: skip
    p.add_argument("--rebuilt", type=Path, default=None,
                   help="a copy rebuilt before (by --rebuild) to measure beside the run")  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/coverage.json")
    a = p.parse_args(argv)
    from forecaster.data.io import atomic_write_text

    runs, rebuilt = {"chosen": a.run}, None
    if a.rebuild is not None:
        from forecaster.pipeline.ladder_rebuild import rebuild_ladder

        t0 = time.perf_counter()
        rebuilt = rebuild_ladder(a.run, a.rebuild)
        rebuilt["seconds"] = round(time.perf_counter() - t0, 1)
        runs = {"chosen": a.rebuild, "chosen_as_trained": a.run}
    elif a.rebuilt is not None:
        runs = {"chosen": a.rebuilt, "chosen_as_trained": a.run}
    out = {
        "run": str(a.run),
        "rebuilt": rebuilt,
        "n_batches": a.n_batches,
        "seed": a.seed,
        "levels": [f"{100 * lv:g}" for lv in LEVELS],
        "bar_points": BAR_POINTS,
        **measure(runs, a.n_batches, a.seed),
        "command": "python benchmarks/bench_coverage.py " + " ".join(argv or sys.argv[1:]),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
    }
    atomic_write_text(a.out, json.dumps(out, indent=2, default=float))
    for k in runs:
        _print_table(f"{k} (served)", out[k])
    _print_table("sequence model's own quantiles", out["sequence_own_quantiles"])
    print(f"\nmax |coverage - nominal|: {out['chosen']['max_abs_gap_points']:.1f} points "
          f"(bar {BAR_POINTS:g}); written to {a.out}", file=sys.stderr)  # fmt: skip
    return out


if __name__ == "__main__":
    main()
