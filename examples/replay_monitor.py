"""Replay a simulated faulty batch hour by hour through the Monitor; print alarms as they happen.

    python examples/replay_monitor.py --run checkpoints/quickstart
    python examples/replay_monitor.py --run checkpoints/quickstart --fault feed_pump_failure --seed 3

The simulator draws one batch with the chosen fault (its true start and end are printed
first, so you can see how early the alarms come). Every hour the new row goes to
``Monitor.update``; alarms are printed the hour they are raised, and the forecast (next
feed rate, harvest titer with its 80 % interval) once a day.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace

import numpy as np
import torch

from forecaster import schema


def faulty_batch(fault: str, seed: int, days: float):
    """One simulated batch with ``fault`` (rows, fault table)."""
    from forecaster.sim import SimConfig, simulate
    from forecaster.sim.fault_config import FaultsConfig

    base = FaultsConfig(rate=1.0)
    specs = {f.name: getattr(base, f.name) for f in fields(FaultsConfig) if f.name != "rate"}
    faults = replace(
        base, **{k: replace(v, weight=1.0 if k == fault else 0.0) for k, v in specs.items()}
    )
    res = simulate(SimConfig(run_length_days=days, faults=faults), n_batches=1, seed=seed)
    return res.table, res.faults


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="trained run folder")
    p.add_argument("--fault", default="aeration_failure", choices=list(schema.FAULT_TYPES))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=float, default=14.0)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from forecaster.serve.monitor import Monitor

    mon = Monitor.from_run(a.run)
    rows, faults = faulty_batch(a.fault, a.seed, a.days)
    for f in faults.itertuples():
        print(
            f"simulated fault: {f.type} from {f.start_h:.0f} h to {f.end_h:.0f} h (severity {f.severity:.2f})"
        )
    bid = str(rows[schema.BATCH_ID].iloc[0])
    rows = rows.reset_index(drop=True)
    ms = []
    for i in range(len(rows)):
        t0 = time.perf_counter()
        up = mon.update(bid, rows.iloc[i : i + 1])
        ms.append(1000 * (time.perf_counter() - t0))
        for e in up.new_alarms:
            tops = ", ".join(f"{v} {s:.0%}" for v, s in e.top_variables)
            print(
                f"  ALARM at {e.raised_h:6.1f} h [{e.detector}{'/' + e.rule if e.rule else ''}] {e.reason} ({tops})"
            )
        if up.time_h % 24 == 0 and up.time_h > 0:
            print(f"day {up.time_h / 24:4.1f}: next feed {up.feed_next_mL_h:6.2f} mL/h, harvest titer "
                  f"{up.harvest_titer_mg_L:6.0f} mg/L (80 %: {up.harvest_titer_p10_mg_L:.0f}-"
                  f"{up.harvest_titer_p90_mg_L:.0f})")  # fmt: skip
    print(
        f"{len(mon.alarms(bid))} alarms; {len(ms)} hourly updates, median {np.median(ms):.1f} ms each"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
