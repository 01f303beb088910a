"""Peer comparison: process-improve's batch PLS against our chosen forecast by origin day.

Both see the same process-improve batches: ``--n_train`` for fitting (seed ``--seed``) and
``--n_new`` held out (seed ``--seed + 1000``), exactly those of ``bench_foreign.py``, whose
held-out figures for our chosen forecast are read from ``benchmarks/results/foreign.json``.
Batch PLS (``process_improve.batch.BatchPLS``) is fitted on the unfolded trajectories of the
five online tags and two set points plus the 11 initial conditions (Z block), with the number
of components picked by leave-batches-out cross-validation on the training batches; a
running batch is predicted with ``predict_online`` (trimmed score regression) from its rows up
to the origin day. Writes ``benchmarks/results/peer.json``.

The monitoring half (its batch PCA against our detectors at an equal false-alarm rate) is not
run here: process-improve's simulator injects no faults (see ``foreign_export.FAULTS_AVAILABLE``).

    python benchmarks/bench_peer.py --n_train 40 --n_new 20
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

from benchmarks.foreign_export import (  # noqa: E402
    INITIAL_COLUMNS,
    SETPOINT_COLUMNS,
    TAG_COLUMNS,
    TITER_COLUMN,
    simulate,
)

RESULTS = Path(__file__).resolve().parent / "results"
ORIGIN_DAYS = (3, 5, 7)
TAGS = [*TAG_COLUMNS.values(), *SETPOINT_COLUMNS.values()]
INITIAL = list(INITIAL_COLUMNS.values())


def blocks(frame: pd.DataFrame) -> tuple[dict, pd.DataFrame, pd.Series]:
    """Batch dictionary of tag trajectories (rows: samples), Z block and harvest titer [g/L]."""
    groups = dict(tuple(frame.groupby("Batch", sort=True)))
    batches = {b: g[TAGS].reset_index(drop=True) for b, g in groups.items()}
    z = pd.DataFrame({b: g[INITIAL].iloc[0] for b, g in groups.items()}).T
    titer = pd.Series({b: float(g[TITER_COLUMN].iloc[-1]) for b, g in groups.items()})
    return batches, z, titer


def fit_pls(batches: dict, z: pd.DataFrame, titer: pd.Series, n_components: int):
    """A fitted ``BatchPLS`` on the given batches."""
    from process_improve.batch import BatchPLS

    keys = list(batches)
    return BatchPLS(n_components=n_components).fit(
        batches, titer.loc[keys].to_frame("titer"), initial_conditions=z.loc[keys]
    )


def pick_components(batches: dict, z: pd.DataFrame, titer: pd.Series, folds: int = 5) -> int:
    """Number of components (1-5) with the lowest cross-validated full-batch MAPE."""
    keys = np.array(list(batches))
    best, best_err = 1, np.inf
    for a in range(1, 6):
        errs = []
        for k in range(folds):
            test = keys[k::folds]
            train = [b for b in keys if b not in set(test)]
            model = fit_pls({b: batches[b] for b in train}, z, titer, a)
            for b in test:
                y = predict(model, batches[b], z.loc[b], len(batches[b]))
                errs.append(abs(y - titer[b]) / titer[b])
        if np.mean(errs) < best_err:
            best, best_err = a, float(np.mean(errs))
    return best


def predict(model, batch: pd.DataFrame, z: pd.Series, upto_k: int) -> float:
    """Harvest titer [g/L] of one batch seen up to sample ``upto_k``."""
    got = model.predict_online(batch, upto_k, initial_conditions=z.to_frame().T)
    return float(np.asarray(got.y_hat).ravel()[0])


def main(argv: list[str] | None = None) -> dict:
    """Run the comparison; print and write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_train", type=int, default=40)
    parser.add_argument("--n_new", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "peer.json"))
    args = parser.parse_args(argv)
    train = simulate(args.n_train, seed=args.seed)
    new = simulate(args.n_new, seed=args.seed + 1000)
    start = time.perf_counter()
    batches, z, titer = blocks(train)
    n_comp = pick_components(batches, z, titer)
    model = fit_pls(batches, z, titer, n_comp)
    new_batches, new_z, new_titer = blocks(new)
    days = new[new["Batch"] == new["Batch"].iloc[0]]["Day"].to_numpy()
    pls = {}
    for day in (*ORIGIN_DAYS, "harvest"):
        k = len(days) if day == "harvest" else int((days <= day).sum())
        err = [abs(predict(model, new_batches[b], new_z.loc[b], k) - new_titer[b]) / new_titer[b]
               for b in new_batches]  # fmt: skip
        pls[str(day)] = {"mape": float(np.mean(err)), "upto_samples": k}
    ours_path = RESULTS / "foreign.json"
    ours = json.loads(ours_path.read_text()) if ours_path.exists() else {}
    same = ours.get("data", {}).get("n_train") == args.n_train and ours.get("data", {}).get(
        "n_new") == args.n_new and ours.get("data", {}).get("seed") == args.seed  # fmt: skip
    chosen = (
        {d: v["mape"] for d, v in ours.get("held_out_chosen_by_day", {}).items()} if same else {}
    )
    ahead = {d: ("ours" if chosen[d] < pls[d]["mape"] else "batch_pls")
             for d in chosen if d in pls}  # fmt: skip
    result = {
        "data": {"source": "process_improve.simulation.BioreactorSimulator", "n_train": args.n_train,
                 "n_new": args.n_new, "seed": args.seed},
        "batch_pls": {"n_components": n_comp, "tags": TAGS, "initial_conditions": len(INITIAL),
                      "held_out_mape_by_day": pls},
        "ours_chosen_held_out_mape_by_day": chosen,
        "ours_source": "benchmarks/results/foreign.json" if same else "missing or other batches",
        "lower_mape_by_day": ahead,
        "monitoring": "not compared: process-improve's simulator injects no faults",
        "seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("batch_pls", "ours_chosen_held_out_mape_by_day",
                      "lower_mape_by_day")}, indent=1))  # fmt: skip
    return result


if __name__ == "__main__":
    main()
