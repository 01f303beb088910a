"""Web-app speed: the Batches page for 200 batches and one Batch page, rendered by AppTest.

    python benchmarks/bench_app.py                         # trains a tiny run first
    python benchmarks/bench_app.py --run checkpoints/quickstart --n_batches 200

Times, after the run folder is loaded (the Data page's first render, reported apart):

- ``batches_first_s``: the Batches page's first render, which predicts every batch (read,
  validate, forecasts, alarms; no attributions) under its progress bar;
- ``batches_page_s``: the Batches page again with the predictions cached (filters, sorting,
  paging and the table): target < 2 s on 2 cores;
- ``batch_page_s``: one Batch page (all charts, the alarm table): target < 1 s.

Each warm figure is the median of ``--repeats`` renders. Writes
``benchmarks/results/app.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {"batches_page_s": 2.0, "batch_page_s": 1.0}
TINY = ["--config", str(ROOT / "configs/debug.yaml"), "--sim.run_length_days", "8",
        "--explain.truth", "false", "--explain.n_test_batches", "2",
        "--explain.randomisation_batches", "0", "--anomaly.autoencoder.max_epochs", "1"]  # fmt: skip


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="run folder (default: train a tiny one)")
    p.add_argument("--n_batches", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/app.json"))
    args = p.parse_args()

    import torch
    from streamlit.testing.v1 import AppTest

    from forecaster.serve.app import MAIN
    from forecaster.serve.app.settings import AppSettings
    from forecaster.sim import SimConfig, simulate

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_app_"))
    if args.run is None:
        from forecaster.pipeline.config import parse_config
        from forecaster.pipeline.train import run

        cfg, text = parse_config([*TINY, "--output_dir", str(tmp / "runs"), "--run_name", "tiny"])
        run_dir, _ = run(cfg, text, log=lambda *_: None)
    else:
        run_dir = Path(args.run).resolve()
    days = int(round(SimConfig().run_length_days)) if args.run else 8
    sim = simulate(SimConfig(run_length_days=days), n_batches=args.n_batches, seed=777)
    table = sim.table.drop(columns=[c for c in sim.table.columns if c.startswith("policy_")])
    (tmp / "data").mkdir()
    data = tmp / "data" / "batches.csv"
    table.to_csv(data, index=False)

    settings = AppSettings(
        runs=run_dir.parent, data=data, configs=ROOT / "configs", run=run_dir.name
    )
    at = AppTest.from_file(str(MAIN), default_timeout=1800)
    at.session_state["app_settings"] = settings
    load_s = _timed(at.run)  # Data page: imports, run folder loaded, file validated
    first_s = _timed(lambda: at.switch_page("views/batches.py").run())
    assert not at.exception, at.exception
    warm = [_timed(at.run) for _ in range(args.repeats)]
    n_rows = len(at.dataframe[0].value)
    bid = str(at.dataframe[0].value["batch_id"].iloc[0])
    at.session_state["batch"] = bid
    at.switch_page("views/batch.py").run()
    batch = [_timed(at.run) for _ in range(args.repeats)]
    assert not at.exception, at.exception

    res = {
        "n_batches": args.n_batches,
        "run": str(run_dir) if args.run else "tiny (configs/debug.yaml, 8 days)",
        "rows_per_page": n_rows,
        "data_page_first_s": round(load_s, 3),
        "batches_first_s": round(first_s, 3),
        "batches_page_s": round(statistics.median(warm), 3),
        "batch_page_s": round(statistics.median(batch), 3),
        "targets_s": TARGETS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
        },  # fmt: skip
    }
    res["pass"] = all(res[k] < v for k, v in TARGETS.items())
    for k in ("data_page_first_s", "batches_first_s", "batches_page_s", "batch_page_s"):
        target = f"  (target < {TARGETS[k]} s)" if k in TARGETS else ""
        print(f"{k:<20}{res[k]:>8.2f} s{target}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
