"""Benchmark: time ``simulate`` for 1,000 fourteen-day batches at dt 0.1 h (target < 10 s).

Usage: ``python benchmarks/bench_sim.py [--n_batches 1000] [--repeats 3]``. Prints the figures
and writes them to ``benchmarks/results/sim.json``. The time covers everything ``simulate``
does: draws, the time loop, measurement, labels and the pandas tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.sim import SimConfig, simulate

RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"
TARGET_S = 10.0


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    info: dict[str, object] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    if hasattr(os, "getloadavg"):
        info["load_avg_1min_before"] = round(os.getloadavg()[0], 2)
    return info


def run(n_batches: int, repeats: int, days: float, dt_h: float) -> dict[str, object]:
    """Time ``repeats`` simulations; returns the figures as a dict."""
    cfg = SimConfig(n_batches=n_batches, run_length_days=days, dt_h=dt_h)
    simulate(cfg, n_batches=min(n_batches, 8))  # warm-up: imports, first-call overheads
    info = machine()
    seconds = []
    for i in range(repeats):
        t0 = time.perf_counter()
        res = simulate(cfg, seed=i)
        seconds.append(time.perf_counter() - t0)
    best, median = min(seconds), statistics.median(seconds)
    return {
        "batches": n_batches,
        "run_length_days": days,
        "dt_h": dt_h,
        "steps": int(round(days * 24 / dt_h)),
        "rows": len(res.table),
        "repeats": repeats,
        "seconds": [round(s, 3) for s in seconds],
        "seconds_best": round(best, 3),
        "seconds_median": round(median, 3),
        "batches_per_s": round(n_batches / best, 1),
        "target_s": TARGET_S,
        "meets_target": best < TARGET_S,
        "machine": info,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n_batches", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--days", type=float, default=14.0)
    ap.add_argument("--dt_h", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    figures = run(args.n_batches, args.repeats, args.days, args.dt_h)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"simulate: {figures['batches']} batches x {figures['run_length_days']:g} days, "
        f"dt {figures['dt_h']} h ({figures['steps']} steps, {figures['rows']} rows)\n"
        f"  best {figures['seconds_best']:.2f} s, median {figures['seconds_median']:.2f} s "
        f"over {figures['repeats']} runs -> {figures['batches_per_s']:.0f} batches/s "
        f"(target < {TARGET_S:g} s: {'met' if figures['meets_target'] else 'NOT met'})\n"
        f"  wrote {args.out}"
    )


if __name__ == "__main__":
    main()
