"""Peer comparison on our simulator: process-improve's batch PLS against the run's forecasts.

Rebuilds the run's data and splits from its ``config.yaml`` (simulated runs only) and fits
process-improve's ``BatchPLS`` on the run's fault-free training batches: the unfolded
trajectories of the online signals, set points and the daily assays (carried forward
between assays, as a plant historian shows them), sampled every ``--every_h`` hours, with
the values known at the start (the planned recipe, the feed medium, the set points) as its
Z block; the number of components by 5-fold leave-batches-out cross-validation. A running
batch is predicted with ``predict_online`` (trimmed score regression) from its rows up to
the origin day. Scored on the fault-free test batches against the measured harvest titer,
beside the run's own figures from ``metrics.json`` (``titer.<rung>.harvest_mape_by_day``).

    python benchmarks/bench_peer_sim.py --run checkpoints/default

Writes ``benchmarks/results/peer_sim.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_peer import fit_pls, predict  # noqa: E402
from forecaster import schema  # noqa: E402
from forecaster.pipeline.config import load_config_file  # noqa: E402
from forecaster.pipeline.data_stage import load_data  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "peer_sim.json"
DAYS = (3, 5, 7, 10)
ONLINE = ("do_pct", "ph", "temperature_C", "volume_L", "agitation_rpm", "airflow_L_min",
          "co2_flow_mL_min", "base_rate_mL_h", "feed_rate_mL_h", "temperature_setpoint_C")  # fmt: skip
ASSAYS = ("vcd_1e6_cells_mL", "viability_pct", "glucose_g_L", "lactate_g_L", "titer_mg_L")
STATIC = ("feed_glucose_g_L", "do_setpoint_pct", "ph_setpoint", *schema.PLAN)


def blocks(groups: dict, ids: list[str], every_h: float) -> tuple[dict, pd.DataFrame, pd.Series]:
    """Tag trajectories (rows: samples every ``every_h`` h), Z block and harvest titer, mg/L."""
    batches, z, titer = {}, {}, {}
    for b in ids:
        g = groups[b]
        keep = np.isclose(np.mod(g[schema.TIME].to_numpy(), every_h), 0.0)
        tags = [c for c in (*ONLINE, *ASSAYS) if c in g.columns]
        frame = g[tags].ffill().fillna(0.0)  # assays carried forward; before the first: 0
        batches[b] = frame[keep].reset_index(drop=True)
        z[b] = g[[c for c in STATIC if c in g.columns]].iloc[0]
        titer[b] = float(g["titer_mg_L"].dropna().iloc[-1])
    return batches, pd.DataFrame(z).T, pd.Series(titer)


def pick_components(batches: dict, z: pd.DataFrame, titer: pd.Series, top: int) -> int:
    """Components (1..top) with the lowest 5-fold cross-validated full-batch MAPE."""
    keys = np.array(list(batches))
    errs = {}
    for a in range(1, top + 1):
        e = []
        for k in range(5):
            held = set(keys[k::5])
            model = fit_pls({b: batches[b] for b in keys if b not in held}, z, titer, a)
            e += [abs(predict(model, batches[b], z.loc[b], len(batches[b])) / titer[b] - 1)
                  for b in held]  # fmt: skip
        errs[a] = float(np.mean(e))
    return min(errs, key=errs.get)


def main(argv: list[str] | None = None) -> dict:
    """Fit, score, print and write the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("checkpoints/default"))
    ap.add_argument("--every_h", type=float, default=6.0)
    ap.add_argument("--max_components", type=int, default=8)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cfg, _ = load_config_file(args.run / "config.yaml")
    data = load_data(cfg, Path("/tmp"))
    groups = {str(b): g.sort_values(schema.TIME) for b, g in data.table.groupby(schema.BATCH_ID)}
    train = [b for b in data.splits["train"] if b not in data.faulty]
    test = [b for b in data.splits["test"] if b not in data.faulty]
    x_tr, z_tr, y_tr = blocks(groups, train, args.every_h)
    x_te, z_te, y_te = blocks(groups, test, args.every_h)
    n_comp = pick_components(x_tr, z_tr, y_tr, args.max_components)
    model = fit_pls(x_tr, z_tr, y_tr, n_comp)
    pls = {}
    for day in DAYS:
        k = int(24 * day / args.every_h) + 1  # samples up to and including the origin
        err = [abs(predict(model, x_te[b], z_te.loc[b], k) / y_te[b] - 1) for b in test]
        pls[str(day)] = float(np.mean(err))
    metrics = json.loads((args.run / "metrics.json").read_text())["titer"]
    ours = {r: v["harvest_mape_by_day"] for r, v in metrics.items()
            if isinstance(v, dict) and "harvest_mape_by_day" in v}  # fmt: skip
    res = {
        "run": str(args.run), "n_train": len(train), "n_test": len(test),
        "batch_pls": {"n_components": n_comp, "every_h": args.every_h,
                      "tags": [*ONLINE, *ASSAYS], "z": list(z_tr.columns),
                      "harvest_mape_by_day": pls},
        "ours": ours,
        "chosen_at_or_below_pls": {d: ours["chosen"][d] <= pls[d] for d in pls},
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip
    print(f"batch PLS ({n_comp} components) vs the run, harvest-titer MAPE, "
          f"{len(test)} fault-free test batches")  # fmt: skip
    print(f"{'day':>4} {'PLS':>7} {'chosen':>7} {'ridge':>7} {'RF':>7}")
    for d in pls:
        print(f"{d:>4} {pls[d]:>7.1%} {ours['chosen'][d]:>7.1%} {ours['ridge'][d]:>7.1%} "
              f"{ours['rf'][d]:>7.1%}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"written {args.out} ({res['seconds']:.0f} s)")
    return res


if __name__ == "__main__":
    main()
