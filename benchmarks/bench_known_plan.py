"""The planned recipe as known future inputs: the same run with and without it.

Usage::

    nice -n 10 timeout 5400 python benchmarks/bench_known_plan.py \
        [--config configs/default.yaml] [--n_batches 300] [--max_epochs 40] [--min_steps 0]

The simulator writes each batch's plan on every row (``schema.PLAN``: feed start, shift
time, post-shift temperature, harvest; static, known in advance). The benchmark trains the
same config twice through the run pipeline -- ``plan_on`` (the plan columns are inputs) and
``plan_off`` (the same data, the plan columns in ``model.exclude_inputs``) -- with anomaly
detection and explanations off, and writes the harvest-titer MAPE by origin day of the
sequence model, the RF, the ridge rung and the chosen ladder forecast (``metrics.json``
``titer.*``), both ways, to ``benchmarks/results/known_plan.json``.

The ridge rung regresses on the daily titer and VCD assays only, so it does not see the
plan; ``ridge_plan`` beside it is the same ridge with the plan values appended to its
features (defined here, fitted by the same folds of the same ladder on the same batches),
to show what the ridge rung would gain from the plan.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.ladder.ridge import RidgeHistory

RESULTS = Path(__file__).resolve().parent / "results" / "known_plan.json"
MODELS = ("sequence", "rf", "ridge", "chosen")


class RidgePlan(RidgeHistory):
    """:class:`RidgeHistory` with the batch's plan values (``schema.PLAN``) as extra features."""

    name = "ridge_plan"

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.plan = tuple(
            c for c in schema.PLAN if all(c in b.columns and b[c].notna().any() for b in batches)
        )
        super()._fit_core(batches)

    def _features(self, rows: pd.DataFrame, day: int) -> np.ndarray:
        plan = [rows[c].dropna().iloc[-1] if rows[c].notna().any() else np.nan for c in self.plan]
        return np.concatenate([super()._features(rows, day), np.asarray(plan, dtype=float)])


@contextmanager
def extra_rung(name: str, cls) -> Iterator[None]:
    """Register a cheap ladder rung for the duration of the block (this process only)."""
    from forecaster.models.ladder import CHEAP_RUNGS

    CHEAP_RUNGS[name] = cls
    try:
        yield
    finally:
        CHEAP_RUNGS.pop(name, None)


def one(args: argparse.Namespace, plan: bool) -> tuple[dict, object, Path]:
    """Train one arm through the pipeline; its titer MAPE by day per model, config, run folder."""
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    exclude = [schema.FEED] if plan else [schema.FEED, *schema.PLAN]
    argv = [
        "--config", args.config,
        "--run_name", f"known_plan_{'on' if plan else 'off'}",
        "--overwrite", "true",
        "--seed", str(args.seed),
        "--sim.n_batches", str(args.n_batches),
        "--trainer.max_epochs", str(args.max_epochs),
        "--trainer.min_steps", str(args.min_steps),
        "--trainer.patience", str(args.patience),
        "--trainer.enable_progress_bar", "false",
        "--model.exclude_inputs", json.dumps(exclude),
        "--anomaly.enabled", "false",
        "--explain.enabled", "false",
    ]  # fmt: skip
    cfg, text = parse_config(argv, exit_on_error=False)
    t0 = time.perf_counter()
    run_dir, metrics = run(cfg, text)
    titer = metrics.get("titer", {})
    out = {m: titer.get(m, {}).get("harvest_mape_by_day") for m in MODELS}
    out["chosen_rung_by_day"] = titer.get("chosen", {}).get("rung_by_day")
    out["epochs"] = metrics.get("forecast_training", {}).get("epochs")
    out["inputs"] = _inputs(run_dir)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out, cfg, Path(run_dir)


def _inputs(run_dir: Path) -> list[str]:
    """The plan columns among the trained sequence model's inputs (its fitted preprocessing)."""
    state = json.loads((run_dir / "forecast" / "preprocessing.json").read_text())
    return [v for v in state["preprocessing"]["variables"] if v in schema.PLAN]


def ridge_with_plan(cfg, run_dir: Path, days: tuple[int, ...]) -> dict:
    """``ridge`` and ``ridge_plan`` on the run's own splits, by the ladder's folds."""
    from forecaster.pipeline.ladder import fit_ladder
    from forecaster.sim import simulate

    res = simulate(replace(cfg.sim, seed=cfg.seed))
    table, faulty = res.table, set(res.faults[schema.BATCH_ID].astype(str))
    faulty |= set(table.loc[table[schema.FAULT_LABEL] > 0, schema.BATCH_ID].astype(str))
    splits = json.loads((run_dir / "splits.json").read_text())

    def part(split: str) -> pd.DataFrame:
        ids = {b for b in splits[split] if b not in faulty}
        return table[table[schema.BATCH_ID].isin(ids)]

    train, val, test = part("train"), part("val"), part("test")
    n = train[schema.BATCH_ID].nunique() + val[schema.BATCH_ID].nunique()
    with extra_rung("ridge_plan", RidgePlan):
        lad = fit_ladder(train, val, test, origin_days=days, k=min(5, max(2, n // 2)),
                         seed=cfg.seed)  # fmt: skip
    return {m: lad.metrics[m]["harvest_mape_by_day"] for m in ("ridge", "ridge_plan")}


def main() -> None:
    from forecaster.pipeline.cli import quiet_lightning

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--n_batches", type=int, default=300)
    ap.add_argument("--max_epochs", type=int, default=40)
    ap.add_argument("--min_steps", type=int, default=0)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    quiet_lightning()
    t0 = time.perf_counter()
    on, cfg_on, dir_on = one(args, plan=True)
    off, _, _ = one(args, plan=False)
    days = tuple(int(d) for d in (on["sequence"] or {"3": 0, "5": 0, "7": 0, "10": 0}))
    extra = ridge_with_plan(cfg_on, dir_on, days)
    res = {
        "command": (
            f"nice -n 10 python benchmarks/bench_known_plan.py --config {args.config} "
            f"--n_batches {args.n_batches} --max_epochs {args.max_epochs} "
            f"--min_steps {args.min_steps} --patience {args.patience} --seed {args.seed}"
        ),
        "what": "harvest-titer MAPE (fraction) by origin day on the fault-free test batches",
        "plan_columns": list(schema.PLAN),
        "plan_on": on,
        "plan_off": off,
        "ridge_with_plan_features": extra,
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    for m in MODELS:
        print(f"{m:9s} on  {on[m]}\n{'':9s} off {off[m]}")
    print("ridge_plan", extra)


if __name__ == "__main__":
    main()
