"""Harvest forecast on finished batches: signed error at the last row vs one hour before.

    python benchmarks/bench_final_row.py --run checkpoints/quickstart --n_batches 300

Simulates fault-free batches of the run's length (another seed than training), predicts
each one whole (its last row holds the harvest assay) and cut one hour before its end, and
compares the harvest forecast with the measured harvest titer. Also checks that the
trajectory's last day is the harvest forecast (one number). Target: the signed median error
at the last row within +-1 %. Writes ``benchmarks/results/final_row.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TARGET_SIGNED_PCT = 1.0


def finished_batches(n_batches: int, days: float, seed: int) -> pd.DataFrame:
    """Fault-free simulated batches of ``days`` days (canonical columns only)."""
    from forecaster.sim import FaultsConfig, SimConfig, simulate

    cfg = SimConfig(run_length_days=days, faults=FaultsConfig(rate=0.0))
    t = simulate(cfg, n_batches=n_batches, seed=seed).table
    return t.drop(columns=[c for c in t.columns if c.startswith("policy_")])


def errors(run, table: pd.DataFrame, cut_h: float | None) -> tuple[np.ndarray, float]:
    """Signed % errors of the harvest forecast (rows <= ``cut_h``, or all) and the largest
    gap between the harvest forecast and the trajectory's last day (mg/L)."""
    from forecaster import schema
    from forecaster.data import targets
    from forecaster.serve.predict import predict_table

    truth = {str(b): targets.harvest_titer(g) for b, g in table.groupby(schema.BATCH_ID)}
    rows = table if cut_h is None else table[table[schema.TIME] <= cut_h]
    res = predict_table(run, rows.reset_index(drop=True), attributions=False, alarms=False)
    pred = res.predictions.set_index(schema.BATCH_ID)["harvest_titer_mg_L"]
    y = np.array([truth[b] for b in pred.index])
    last = res.trajectories.groupby(schema.BATCH_ID)["titer_mg_L"].last().reindex(pred.index)
    return 100.0 * (pred.to_numpy() / y - 1.0), float(np.nanmax(np.abs(last - pred)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=str(ROOT / "checkpoints" / "quickstart"))
    p.add_argument("--n_batches", type=int, default=300)
    p.add_argument("--seed", type=int, default=9001)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "final_row.json"))
    args = p.parse_args()

    from forecaster.serve.run_folder import load_run
    from forecaster.threads import set_threads

    set_threads(1)
    run = load_run(args.run)
    days = run.model.harvest_day
    table = finished_batches(args.n_batches, days, args.seed)
    end_h = 24.0 * days
    out = {"run": str(args.run), "n_batches": args.n_batches, "seed": args.seed, "days": days}
    for name, cut in (("last_row", None), ("one_hour_before", end_h - 1.0)):
        e, gap = errors(run, table, cut)
        out[name] = {
            "signed_median_pct": float(np.median(e)),
            "median_abs_pct": float(np.median(np.abs(e))),
            "p90_abs_pct": float(np.percentile(np.abs(e), 90)),
            "max_gap_trajectory_vs_harvest_mg_L": gap,
        }
        print(f"{name:>16}: signed median {np.median(e):+.2f} %, median |err| "
              f"{np.median(np.abs(e)):.2f} %, trajectory-harvest gap {gap:.3g} mg/L")  # fmt: skip
    ok = abs(out["last_row"]["signed_median_pct"]) <= TARGET_SIGNED_PCT
    out["target_signed_median_pct"] = TARGET_SIGNED_PCT
    out["pass"] = bool(ok)
    out["machine"] = platform.platform()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"{'PASS' if ok else 'FAIL'} (target +-{TARGET_SIGNED_PCT} %) -> {args.out}")


if __name__ == "__main__":
    main()
