"""Training length on small data: a fixed epoch count against an optimiser-step budget.

Usage: ``python benchmarks/bench_training_length.py [--n_batches 24] [--epochs 20]
[--min_steps 400]``. Simulates ``n_batches`` batches (about 70 % of them training batches),
trains the forecaster twice through the run pipeline -- ``trainer.max_epochs`` as given
with no budget, then with ``trainer.min_steps`` -- and writes the harvest-titer MAPE by
origin day of both, the epochs run and the undertraining warning (if any) to
``benchmarks/results/training_length.json``. Anomaly detection and explanations are off.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "training_length.json"


def one(n_batches: int, epochs: int, min_steps: int, seed: int) -> dict:
    """One run's harvest MAPE by day, epochs and warning."""
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    argv = [
        "--config", "configs/quickstart.yaml",
        "--run_name", f"trainlen_{epochs}_{min_steps}",
        "--overwrite", "true",  # this benchmark's own run folder, from its last run
        "--seed", str(seed),
        "--sim.n_batches", str(n_batches),
        "--trainer.max_epochs", str(epochs),
        "--trainer.min_steps", str(min_steps),
        "--anomaly.enabled", "false",
        "--explain.enabled", "false",
    ]  # fmt: skip
    cfg, text = parse_config(argv, exit_on_error=False)
    t0 = time.perf_counter()
    _, metrics = run(cfg, text)
    titer = metrics.get("titer", {})
    training = dict(metrics.get("forecast_training") or {})
    training.pop("val_loss_by_epoch", None)
    return {
        "max_epochs": epochs,
        "min_steps": min_steps,
        "harvest_mape_by_day": titer.get("sequence", {}).get("harvest_mape_by_day"),
        "chosen_harvest_mape_by_day": titer.get("chosen", {}).get("harvest_mape_by_day"),
        "n_test_batches": metrics.get("data", {}).get("n_test_batches"),
        "training": training,  # epochs run, epoch limit, steps, stopped early, warning
        "wall_s": time.perf_counter() - t0,
    }


def main() -> None:
    from forecaster.data.io import atomic_write_text
    from forecaster.pipeline.cli import quiet_lightning

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n_batches", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--min_steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    quiet_lightning()
    res = {
        "n_batches": args.n_batches,
        "fixed_epochs": one(args.n_batches, args.epochs, 0, args.seed),
        "step_budget": one(args.n_batches, args.epochs, args.min_steps, args.seed),
    }
    for k in ("fixed_epochs", "step_budget"):
        print(k, json.dumps(res[k], default=str))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(res, indent=2, default=str))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
