"""Benchmark: in-batch feed plans in closed loop on the simulator (three arms, same batches).

Usage: ``python benchmarks/bench_optimize.py [--n_batches 50] [--seed 2026]``.

Held-out simulated batches (a seed no model was fitted on; fault-free, default config), each
run three ways with the same hidden culture parameters and noise: (i) the recipe with the
operator's feed policy, (ii) the mechanistic planner that sees only plant data (recipe and
measurements as they arrive, re-planned at every daily assay), (iii) an oracle running the
same search with the batch's true simulator parameters. Figures: mean and median harvest
titer gain of (ii) and (iii) over (i), share of batches improved, constraint violations
(true glucose outside [0.5, 8] g/L, volume above 2.5 L, feed rate outside the pump's range,
hourly from feed start to harvest), share of the oracle's gain that (ii) reaches, and the
seconds per recommendation. Writes ``benchmarks/results/optimize.json`` and
``optimize.png``; prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from forecaster import schema
from forecaster.optimize.closed_loop import run_arms, summary
from forecaster.optimize.feed_plan_data import FeedConstraints
from forecaster.sim import SimConfig

RESULTS = Path(__file__).resolve().parent / "results"
BARS = {"share_of_oracle_gain_min": 0.70, "share_improved_min": 0.90, "violations_max": 0,
        "seconds_per_plan_max": 10.0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n_batches", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    cfg = SimConfig()
    cfg.faults.rate = 0.0
    cons = FeedConstraints()
    t0 = time.perf_counter()
    res, timings = run_arms(cfg, a.n_batches, a.seed, cons)
    wall = time.perf_counter() - t0
    figs = summary(res, cons)
    for arm, sec in timings.items():
        figs[f"{arm}_plans"] = float(len(sec))
        figs[f"{arm}_seconds_per_plan_mean"] = float(np.mean(sec))
        figs[f"{arm}_seconds_per_plan_max"] = float(np.max(sec))
    figs["wall_seconds"] = wall
    bars = {
        "share_of_oracle_gain": figs["share_of_oracle_gain"] >= BARS["share_of_oracle_gain_min"],
        "share_improved": figs["tool_share_improved"] >= BARS["share_improved_min"],
        "no_violations": figs["tool_violation_hours"] <= BARS["violations_max"],
        "seconds_per_plan": figs["tool_seconds_per_plan_max"] < BARS["seconds_per_plan_max"],
    }
    per_batch = {
        arm: r.batches.set_index(schema.BATCH_ID)[
            ["harvest_titer_true_mg_L", "temperature_shift_h", "feed_L", "harvest_volume_true_L"]
        ]
        .round(3)
        .reset_index()
        .to_dict(orient="list")
        for arm, r in res.items()
    }
    out = {
        "setup": {
            "n_batches": a.n_batches,
            "seed": a.seed,
            "faults": "none",
            "cpu_count": os.cpu_count(),
            "constraints": cons.__dict__,
            "decision_interval_h": cons.decision_interval_h,
        },  # fmt: skip
        "figures": {k: round(v, 4) for k, v in figs.items()},
        "bars": BARS,
        "bars_met": bars,
        "per_batch": per_batch,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "optimize.json").write_text(json.dumps(out, indent=1))
    _table(figs, bars)
    _plot(res, a.out / "optimize.png")


def _table(f: dict[str, float], bars: dict[str, bool]) -> None:
    print(f"{'arm':8s} {'mean titer':>11s} {'mean gain %':>12s} {'median %':>9s} "
          f"{'improved':>9s} {'viol. batches':>14s}")  # fmt: skip
    for arm in ("default", "tool", "oracle"):
        g = f.get(f"{arm}_mean_gain_pct", 0.0)
        md = f.get(f"{arm}_median_gain_pct", 0.0)
        sh = f.get(f"{arm}_share_improved", float("nan"))
        print(f"{arm:8s} {f[f'{arm}_mean_titer_mg_L']:11.0f} {g:12.1f} {md:9.1f} {sh:9.2f} "
              f"{f[f'{arm}_violating_batches']:14.0f}")  # fmt: skip
    print(f"share of the oracle's gain reached by the tool: {f['share_of_oracle_gain']:.2f}")
    print(f"seconds per recommendation (tool): mean {f['tool_seconds_per_plan_mean']:.2f}, "
          f"max {f['tool_seconds_per_plan_max']:.2f}")  # fmt: skip
    print("bars met:", ", ".join(f"{k}={v}" for k, v in bars.items()))


def _plot(res, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = {a: r.batches["harvest_titer_true_mg_L"].to_numpy() for a, r in res.items()}
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    lim = [0, max(v.max() for v in t.values()) * 1.05]
    ax[0].plot(lim, lim, color="grey", lw=0.8)
    ax[0].scatter(t["default"], t["tool"], s=14, label="tool (plant data)")
    ax[0].scatter(t["default"], t["oracle"], s=14, marker="x", label="oracle (true parameters)")
    ax[0].set(xlabel="harvest titer, default recipe (mg/L)", ylabel="harvest titer (mg/L)",
              title="Same batches, three arms")  # fmt: skip
    ax[0].legend()
    for arm in ("tool", "oracle"):
        ax[1].hist(100 * (t[arm] / t["default"] - 1), bins=20, alpha=0.6, label=arm)
    ax[1].axvline(0, color="grey", lw=0.8)
    ax[1].set(xlabel="harvest titer gain over default (%)", ylabel="batches",
              title="Gain per batch")  # fmt: skip
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
