"""Learning curve of the forecaster ladder: harvest-titer MAPE by origin day against the
number of training batches (10, 20, 40, 80), cheap rungs + RF, on the simulator.

Usage: ``python benchmarks/bench_small_data.py [--sizes 10 20 40 80] [--seeds 0 1]``.
Per seed: fault-free 14-day batches are simulated once; the first n are the user's data
(cheap rungs cross-validated by batch over all n, k = 5; the RF fitted on the first 80 %
and searched / scored on the last 20 %), the last 40 are the test batches. Prints the
test-batch MAPE table (mean over seeds) and writes ``benchmarks/results/small_data.json``
(every seed's ladder metrics, the chosen rung per day, the wall time).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.baseline import RFBaseline, RFConfig, default_variables
from forecaster.pipeline.ladder import run_ladder
from forecaster.sim import SimConfig, simulate

RESULTS = Path(__file__).resolve().parent / "results" / "small_data.json"
DAYS = (3, 5, 7, 10)
N_TEST = 40
SHOWN = ("naive_mean", "naive_ratio", "naive_slope", "ridge", "rf", "chosen")


def one(n: int, seed: int, groups: dict, rf_jobs: int) -> dict:
    """Ladder metrics with the first ``n`` batches as training data."""
    ids = sorted(groups)
    pool, test = ids[:n], ids[-N_TEST:]
    n_val = max(2, round(0.2 * n))
    tr, va = pool[:-n_val], pool[-n_val:]
    cat = lambda s: pd.concat([groups[b] for b in s])  # noqa: E731
    t0 = time.perf_counter()
    cfg = RFConfig(n_estimators=[150], min_samples_leaf=[2], n_jobs=rf_jobs)
    rf = RFBaseline(cfg, default_variables(groups[ids[0]]), seed=seed).fit(cat(tr), cat(va))
    m = run_ladder(cat(tr), cat(va), cat(test), rf=rf, origin_days=DAYS, k=5, seed=seed)
    m["wall_s"] = time.perf_counter() - t0
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40, 80])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--rf_jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    t_all = time.perf_counter()
    res: dict = {"sizes": args.sizes, "seeds": args.seeds, "n_test": N_TEST, "runs": {}}
    for seed in args.seeds:
        base = SimConfig()
        cfg = dataclasses.replace(base, faults=dataclasses.replace(base.faults, rate=0.0))
        tab = simulate(cfg, n_batches=max(args.sizes) + N_TEST, seed=seed).table
        groups = {str(b): g for b, g in tab.groupby(schema.BATCH_ID, sort=True)}
        for n in args.sizes:
            res["runs"][f"{n}/{seed}"] = one(n, seed, groups, args.rf_jobs)
            print(f"n={n} seed={seed}: {res['runs'][f'{n}/{seed}']['wall_s']:.1f} s", flush=True)
    print(f"\nharvest-titer MAPE on {N_TEST} test batches, mean over seeds {args.seeds}")
    print(f"{'n':>3} {'rung':<12}" + "".join(f"{'day ' + str(d):>9}" for d in DAYS))
    table: dict = {}
    for n in args.sizes:
        runs = [res["runs"][f"{n}/{s}"] for s in args.seeds]
        for rung in SHOWN:
            vals = [np.mean([r[rung]["harvest_mape_by_day"][str(d)] for r in runs]) for d in DAYS]
            table.setdefault(str(n), {})[rung] = dict(zip(map(str, DAYS), vals))
            print(f"{n:>3} {rung:<12}" + "".join(f"{v:>9.1%}" for v in vals))
        chosen = [" ".join(r["chosen"]["rung_by_day"].get(str(d), "-") for r in runs) for d in DAYS]
        print(f"{'':>3} {'chosen rung':<12}" + "  |  ".join(chosen))
    res["mape_by_size"] = table
    res["total_s"] = time.perf_counter() - t_all
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"total {res['total_s']:.0f} s; written {args.out}")


if __name__ == "__main__":
    main()
