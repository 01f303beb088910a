"""Monitor latency: milliseconds per hourly update of a running batch (target < 20 ms).

    python benchmarks/bench_monitor.py                    # trains a small run first
    python benchmarks/bench_monitor.py --run checkpoints/default --n_batches 5

Replays simulated 14-day batches (every one with a fault, so alarms are raised) one row at
a time through :class:`forecaster.serve.monitor.Monitor`: forecasts and alarm detection at every
hour. Reports the median, 95th percentile, max and mean time per update and checks that the
time does not grow with the age of the batch (first day vs last day), and the CPU time per
update (steadier than the wall clock on a shared machine). Writes
``benchmarks/results/monitor.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from bench_predict import ensure_run  # noqa: E402  (beside this file)

TARGET_MS = 20.0


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=None, help="run folder (default: train a small one)")
    p.add_argument("--n_batches", type=int, default=4)
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/monitor.json"))
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # one batch at a time: more threads only add overhead
    from forecaster.data.io import atomic_write_text
    from forecaster.serve.monitor import Monitor
    from forecaster.serve.predict import load_run
    from forecaster.sim import SimConfig, simulate
    from forecaster.sim.fault_config import FaultsConfig

    with tempfile.TemporaryDirectory() as work:
        run_dir = ensure_run(a.run, Path(work))
        run = load_run(run_dir)
    sim = simulate(
        SimConfig(run_length_days=a.days, faults=FaultsConfig(rate=1.0)),
        n_batches=a.n_batches,
        seed=a.seed,
    )
    table = sim.table
    mon = Monitor(run)
    times, cpu, first_day, last_day, n_alarms = [], [], [], [], 0
    for bid, g in table.groupby("batch_id", sort=False):
        g = g.reset_index(drop=True)
        for i in range(len(g)):
            row = g.iloc[i : i + 1]
            t0, c0 = time.perf_counter(), time.process_time()
            up = mon.update(str(bid), row)
            dt = 1000.0 * (time.perf_counter() - t0)
            times.append(dt)
            cpu.append(1000.0 * (time.process_time() - c0))
            n_alarms += len(up.new_alarms)
            h = float(row["time_h"].iloc[0])
            if h < 24.0:
                first_day.append(dt)
            elif h >= 24.0 * (a.days - 1):
                last_day.append(dt)
        mon.close(str(bid))
    ms = np.asarray(times)
    out = {
        "n_batches": a.n_batches,
        "days": a.days,
        "n_updates": int(ms.size),
        "n_alarms": n_alarms,
        "ms_per_update": {
            "median": round(float(np.median(ms)), 2),
            "p95": round(float(np.percentile(ms, 95)), 2),
            "max": round(float(ms.max()), 2),
            "mean": round(float(ms.mean()), 2),
            "first_day_median": round(float(np.median(first_day)), 2),
            "last_day_median": round(float(np.median(last_day)), 2),
        },
        # CPU time of this process: less sensitive than the wall clock to other work on a
        # shared machine (compare versions on it when the load average is not ~0)
        "cpu_ms_per_update": {
            "median": round(float(np.median(cpu)), 2),
            "p95": round(float(np.percentile(cpu, 95)), 2),
        },
        "target_ms": TARGET_MS,
        "meets_target": float(np.median(ms)) < TARGET_MS,
        "forecaster": {
            "hidden_size": run.model.hparams["hidden_size"],
            "num_layers": run.model.hparams["num_layers"],
        },
        "alarms": run.detector is not None,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": platform.platform(),
    }
    atomic_write_text(a.out, json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
