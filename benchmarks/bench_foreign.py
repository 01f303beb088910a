"""Foreign data: train and predict on process-improve's batches through a config alone.

Trains ``configs/examples/process_improve.yaml`` on ``--n_train`` exported batches, then
predicts ``--n_new`` held-out ones (another seed) cut at each origin day. Writes
``benchmarks/results/foreign.json``: harvest-titer MAPE by origin day for every ladder rung
(the run's own test split) and for the chosen forecast on the held-out batches, p10-p90
coverage, the alarm rate of every detector and rule on the fault-free held-out batches (the
share of batches with at least one alarm; the goal is <= 5 %), and run times.

    python benchmarks/bench_foreign.py --n_train 40 --n_new 20 --max_epochs 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.foreign_export import TITER_COLUMN, simulate  # noqa: E402

CONFIG = "configs/examples/process_improve.yaml"
RESULTS = Path(__file__).resolve().parent / "results" / "foreign.json"
ORIGIN_DAYS = (3, 5, 7)


def train(data: Path, work: Path, max_epochs: int) -> tuple[Path, dict, float]:
    """Train the example config on ``data``; (run folder, metrics, seconds)."""
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    args = ["--config", CONFIG, "--data.path", str(data), "--output_dir", str(work),
            "--run_name", "foreign", "--trainer.max_epochs", str(max_epochs),
            "--trainer.enable_progress_bar", "false", "--explain.enabled", "false"]  # fmt: skip
    cfg, text = parse_config(args)
    start = time.perf_counter()
    run_dir, metrics = run(cfg, text, log=lambda *_: None)
    return run_dir, metrics, time.perf_counter() - start


def predict_cut(run_dir: Path, new: pd.DataFrame, day: float | None, work: Path) -> Path:
    """Predict the held-out batches cut at ``day`` (None: whole batches); the output folder."""
    from forecaster.serve.predict import main as predict

    cut = new if day is None else new[new["Day"] <= day]  # titer column kept, empty (day < 10)
    tag = "full" if day is None else f"d{day:g}"
    path, out = work / f"new_{tag}.csv", work / f"out_{tag}"
    cut.to_csv(path, index=False)
    code = predict(
        ["--run", str(run_dir), "--input", str(path), "--out", str(out), "--no_pictures"]
    )
    if code != 0:
        raise SystemExit(f"predict failed on {path} (exit {code})")
    return out


def held_out_scores(pred: pd.DataFrame, truth: pd.Series) -> dict[str, float]:
    """MAPE of the harvest titer and p10-p90 coverage against the true titers [g/L]."""
    got = pred.set_index("batch_id")
    y = truth.reindex(got.index).to_numpy(float)
    mid = got["harvest_Titer_g_L"].to_numpy(float)
    lo, hi = (
        got["harvest_Titer_p10_g_L"].to_numpy(float),
        got["harvest_Titer_p90_g_L"].to_numpy(float),
    )
    return {"mape": float(np.mean(np.abs(mid - y) / y)),
            "coverage_p10_p90": float(np.mean((y >= lo) & (y <= hi))),
            "n_batches": int(len(y))}  # fmt: skip


def alarm_rates(alarms: pd.DataFrame, n_batches: int) -> dict[str, float]:
    """Share of fault-free batches with at least one alarm, per detector (and rule)."""
    if alarms.empty:
        return {}
    key = alarms["detector"].astype(str)
    if "rule" in alarms:
        rule = alarms["rule"].astype("string").fillna("")
        key = key.where(rule.eq(""), key + ":" + rule)
    hit = alarms.assign(key=key).groupby("key")["batch_id"].nunique()
    return {k: float(v) / n_batches for k, v in hit.sort_values(ascending=False).items()}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print and write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_train", type=int, default=40)
    parser.add_argument("--n_new", type=int, default=20)
    parser.add_argument("--max_epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_foreign_"))
    data = work / "train.csv"
    simulate(args.n_train, seed=args.seed).to_csv(data, index=False)
    new = simulate(args.n_new, seed=args.seed + 1000)
    truth = new.groupby("Batch")[TITER_COLUMN].last()

    run_dir, metrics, train_s = train(data, work, args.max_epochs)
    titer = metrics["titer"]
    rungs = {name: titer[name]["harvest_mape_by_day"] for name in titer
             if isinstance(titer[name], dict) and "harvest_mape_by_day" in titer[name]}  # fmt: skip
    start = time.perf_counter()
    held_out = {}
    for day in ORIGIN_DAYS:
        out = predict_cut(run_dir, new, day, work)
        pred = pd.read_csv(out / "predictions.csv")
        held_out[str(day)] = held_out_scores(pred, truth)
        if "harvest_forecast_by" in pred:  # which forecast predict served at this cut
            held_out[str(day)]["served"] = pred["harvest_forecast_by"].value_counts().to_dict()
    full = predict_cut(run_dir, new, None, work)
    alarms = pd.read_csv(full / "alarms.csv")
    predict_s = time.perf_counter() - start
    rates = alarm_rates(alarms, args.n_new)
    result = {
        "data": {"source": "process_improve.simulation.BioreactorSimulator",
                 "policy": "historical", "n_train": args.n_train, "n_new": args.n_new,
                 "seed": args.seed, "faults_available": False},
        "max_epochs": args.max_epochs,
        "test_mape_by_rung_and_day": rungs,
        "chosen_rung_by_day": titer["chosen"].get("rung_by_day"),
        "chosen_test_coverage": titer["chosen"].get("coverage"),
        "held_out_chosen_by_day": held_out,
        "alarm_rate_fault_free": rates,
        "max_alarm_rate": max(rates.values(), default=0.0),
        "alarm_rate_goal": 0.05,
        "seconds": {"train": round(train_s, 1), "predict_all_cuts": round(predict_s, 1)},
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("held_out_chosen_by_day", "chosen_rung_by_day",
                      "alarm_rate_fault_free", "seconds")}, indent=1))  # fmt: skip
    return result


if __name__ == "__main__":
    main()
