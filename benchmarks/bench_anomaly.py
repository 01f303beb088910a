"""Anomaly stage on simulated batches: metrics vs the bars, speed, streaming agreement.

Usage: ``python benchmarks/bench_anomaly.py [--n-batches 240] [--seed 0]``. Simulates the
batches, splits them by batch (stratified on faulty / normal), fits the preprocessing on the
fault-free training batches, fits the detector with ``fit_detector`` (no run context),
saves it into a temporary folder, evaluates it on the test batches, prints the metrics and
writes ``benchmarks/results/anomaly.json``.

Small data: ``--train-normal 20`` keeps only 20 fault-free training batches (thresholds
then set out of fold, ``--calibration auto``); the summary gives the false alarms on
normal test batches (used for no threshold) against the 2 / 100 batch-days bar and the recall
on faults visible in online signals against 0.8. ``--max-epochs`` shortens the autoencoder.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.fit import fit_detector
from forecaster.anomaly.metrics import evaluate
from forecaster.anomaly.threshold import duration_days
from forecaster.data.features import Preprocessor
from forecaster.data.splits import split_batches
from forecaster.pipeline.anomaly_eval import ONLINE_FAULTS, check_bars, evaluate_all
from forecaster.sim import SimConfig, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-batches", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fractions", type=float, nargs=3, default=(0.5, 0.2, 0.3))
    ap.add_argument("--run-dir", type=Path, default=None, help="keep the run folder here")
    ap.add_argument(
        "--train-normal", type=int, default=None, help="fault-free training batches kept"
    )
    ap.add_argument("--calibration", default="auto", choices=("auto", "out_of_fold", "holdout"))
    ap.add_argument("--max-epochs", type=int, default=None, help="autoencoder epochs")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "anomaly.json")
    args = ap.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    sim = simulate(SimConfig(), n_batches=args.n_batches, seed=args.seed)
    t_sim = time.perf_counter() - t0
    table, faults = sim.table, sim.faults
    ids = sorted(table[schema.BATCH_ID].astype(str).unique())
    faulty = set(faults[schema.BATCH_ID].astype(str))
    splits = split_batches(ids, faulty=faulty, fractions=args.fractions, seed=args.seed)
    if args.train_normal is not None:  # small data: only this many fault-free training batches
        keep = sorted(set(splits["train"]) - faulty)[: args.train_normal]
        splits["train"] = keep
    train_normal = table[table[schema.BATCH_ID].isin(set(splits["train"]) - faulty)]
    variables = [v for v in schema.VARIABLE_NAMES if v in table.columns]
    prep = Preprocessor.fit(train_normal, variables)
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="bench_anomaly_"))
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = AnomalyConfig(calibration={"mode": args.calibration})
    if args.max_epochs is not None:
        cfg.autoencoder.max_epochs = args.max_epochs

    def rows_of(split: str, normal_only: bool = False):
        ids = set(splits[split]) - (faulty if normal_only else set())
        return table[table[schema.BATCH_ID].astype(str).isin(ids)]

    t0 = time.perf_counter()
    det, info = fit_detector(
        rows_of("train", True), rows_of("val", True), cfg, prep, args.seed,
        trainer_kwargs={"enable_progress_bar": False, "accelerator": "cpu"},
        excluded=set(splits["val"]) & faulty,
    )  # fmt: skip
    det.save(run_dir / "anomaly")
    test = {
        str(b): g.sort_values(schema.TIME).reset_index(drop=True)
        for b, g in rows_of("test").groupby(schema.BATCH_ID)
    }
    ev = evaluate_all(det, test, faults, cfg.eval.grace_h)
    t_stage = time.perf_counter() - t0
    res: dict = {"info": info, **{d: dict(m) for d, m in ev.metrics.items()}}
    for s, cal in det.scorers:
        res[s.name].update(threshold=cal.threshold, calibration=cal.to_dict(), **s.summary())
    res["combined"]["bars"] = check_bars(ev.metrics)
    res["small_data"] = small_data_bars(ev, faults, test, cfg.eval.grace_h, det)

    # Speed and streaming agreement on the test batches, from the saved run folder.
    det = AnomalyDetector.load(run_dir)
    groups = test
    one = next(iter(groups.values()))
    det.detect(one)
    n_rep = 20
    t0 = time.perf_counter()
    for _ in range(n_rep):
        det.score(one)
        det.detect(one)
    ms = 1000 * (time.perf_counter() - t0) / n_rep
    agree, n_ev = 0, 0
    for b, g in list(groups.items())[:20]:
        whole = [e.key for e in det.detect(g)]
        s = det.stream(b)
        for lo in range(0, len(g), 24):
            s.update(g.iloc[lo : lo + 24])
        agree += whole == [e.key for e in s.events]
        n_ev += len(whole)
    out = {
        "n_batches": args.n_batches,
        "seed": args.seed,
        "splits": {k: len(v) for k, v in splits.items()},
        "n_test_faults_by_type": faults[faults[schema.BATCH_ID].isin(splits["test"])]["type"]
        .value_counts()
        .to_dict(),
        "sim_s": round(t_sim, 2),
        "stage_s": round(t_stage, 2),
        "score_plus_detect_ms_per_batch": round(ms, 2),
        "stream_vs_oneshot_identical_batches": f"{agree}/{min(20, len(groups))} ({n_ev} events)",
        "anomaly": res,
        "run_dir": str(run_dir),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str))
    keys = ["event_recall", "precision", "f1", "false_alarms_per_100_batch_days", "median_delay_h",
            "auroc", "auprc", "top_variable_accuracy", "n_alarm_events", "n_incidents"]  # fmt: skip
    print(
        f"sim {t_sim:.1f}s  stage {t_stage:.1f}s  score+detect {ms:.1f} ms/batch  stream==oneshot {out['stream_vs_oneshot_identical_batches']}"
    )
    print("test faults:", out["n_test_faults_by_type"], "splits:", out["splits"])
    print(f"{'detector':12s} " + " ".join(f"{k[:12]:>12s}" for k in keys))
    for d in ("autoencoder", "rules", "pca", "combined"):
        m = res.get(d, {})
        print(f"{d:12s} " + " ".join(f"{_f(m.get(k)):>12s}" for k in keys))
    print("recall/delay by type (combined):")
    c = res["combined"]
    for t in c.get("event_recall_by_type", {}):
        row = "  ".join(
            f"{d[:4]} {_f(res[d]['event_recall_by_type'].get(t))}/{_f(res[d]['median_delay_h_by_type'].get(t))}"
            for d in ("autoencoder", "rules", "pca", "combined")
        )
        print(f"  {t:28s} {row}")
    print("bars all pass:", c.get("bars", {}).get("all_pass"))
    print("events -> incidents per faulty test batch (combined):",
          c.get("events_per_faulty_batch"), "->", c.get("incidents_per_faulty_batch"))  # fmt: skip
    print("rules switched off at training:", info.get("rules_off"))
    print("small-data bars:", json.dumps(res["small_data"]))
    for s, cal in det.scorers:
        if cal.contamination_warning:
            print(f"calibration warning ({s.name}): {cal.contamination_warning}")
    print("wrote", args.out, "run folder", run_dir)


def small_data_bars(ev, faults, test, grace_h: float, det) -> dict:
    """False alarms on normal test batches (no threshold set on them) vs 2 / 100 batch-days,
    recall on faults visible in online signals vs 0.8 (combined detector), and each
    scorer's target beside its held-out rate."""
    online = faults[faults["type"].isin(ONLINE_FAULTS)]
    other = set(faults[~faults["type"].isin(ONLINE_FAULTS)][schema.BATCH_ID].astype(str))
    days = {
        b: duration_days(g[schema.TIME].to_numpy(float)) for b, g in test.items() if b not in other
    }
    combined = [e for e in ev.events if e.detector in det.default_detectors]
    m = evaluate(combined, online, days, grace_h)
    fa, rec = m["false_alarms_per_100_batch_days"], m["event_recall"]
    return {
        "false_alarms_per_100_normal_batch_days": fa,
        "false_alarm_bar": 2.0,
        "online_fault_recall": rec,
        "recall_bar": 0.8,
        "n_online_faults": m["n_fault_events"],
        "n_normal_test_batches": m["n_fault_free_batches"],
        "pass": fa is not None and fa <= 2.0 and rec is not None and rec >= 0.8,
        "calibration": {
            s.name: {
                "mode": c.mode,
                "target": c.target_false_alarms_per_100_batch_days,
                "heldout_rate": c.heldout_rate_per_100_batch_days,
                "heldout_batches": c.heldout_batches,
            }
            for s, c in det.scorers
        },
    }


def _f(x) -> str:
    return "-" if x is None else (f"{x:.3g}" if isinstance(x, float | np.floating) else str(x))


if __name__ == "__main__":
    main()
