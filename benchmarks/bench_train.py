"""Accuracy and training-time benchmark: one full training run, figures vs. the bars.

    python benchmarks/bench_train.py --config configs/default.yaml      # the README's figures
    python benchmarks/bench_train.py --config configs/quickstart.yaml

Runs ``train.py`` with the given config (extra arguments are passed on), then prints the
headline metrics next to the project's bars and writes them to
``benchmarks/results/train_<run_name>.json``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARS = {
    "feed.sequence.r2": (">=", 0.95),
    "titer.sequence.harvest_mape_by_day.3": ("<=", 0.08),
    "titer.sequence.harvest_mape_by_day.7": ("<=", 0.05),
    "titer.sequence.pi80_coverage": ("between", (0.75, 0.85)),
    "anomaly.combined.event_recall": (">=", 0.95),
    "anomaly.combined.false_alarms_per_100_batch_days": ("<=", 1.0),
    "anomaly.combined.top_variable_accuracy": (">=", 0.8),
    "attribution.feed.ig.top3_precision": (">=", 0.8),
    "attribution.feed.ig.spearman_vs_truth": (">=", 0.7),
    "attribution.ig_completeness_rel_error": ("<=", 0.05),
}


def get(d: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def check(value, op, bar) -> str:
    if value is None:
        return "n/a"
    ok = {
        "<=": lambda: value <= bar,
        ">=": lambda: value >= bar,
        "between": lambda: bar[0] <= value <= bar[1],
    }[op]()
    return "PASS" if ok else "MISS"


def main() -> None:
    from forecaster.pipeline.cli import quiet_lightning
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run

    quiet_lightning()
    cfg, text = parse_config(sys.argv[1:])
    t0 = time.perf_counter()
    run_dir, metrics = run(cfg, text)
    wall = time.perf_counter() - t0
    rows = []
    for key, (op, bar) in BARS.items():
        v = get(metrics, key)
        rows.append({"metric": key, "value": v, "bar": f"{op} {bar}", "status": check(v, op, bar)})
    rf_beats = {}
    for d in ("3", "5", "7", "10"):
        s = get(metrics, f"titer.sequence.harvest_mape_by_day.{d}")
        r = get(metrics, f"titer.rf.harvest_mape_by_day.{d}")
        rf_beats[d] = None if s is None or r is None else bool(s < r)
    out = {
        "command": "python benchmarks/bench_train.py " + " ".join(sys.argv[1:]),
        "run_dir": str(run_dir),
        "wall_s": wall,
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "bars": rows,
        "sequence_beats_rf_mape_by_day": rf_beats,
        "metrics": metrics,
    }
    print(f"\nwall time {wall:.0f} s ({run_dir})")
    for r in rows:
        v = r["value"]
        print(
            f"  {r['metric']:<55} {('n/a' if v is None else f'{v:.4f}'):>10}  {r['bar']:<22} {r['status']}"
        )
    print(f"  sequence beats RF on harvest MAPE by day: {rf_beats}")
    dest = ROOT / "benchmarks" / "results" / f"train_{cfg.run_name}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2, default=str))
    print(f"written {dest}")


if __name__ == "__main__":
    main()
