"""Prediction throughput: simulated 14-day batches per minute, with and without attributions.

    python benchmarks/bench_predict.py                       # trains a small run first
    python benchmarks/bench_predict.py --run checkpoints/default --n_batches 1000

Times what ``python -m forecaster.predict --no_pictures`` does after loading the run:
read + validate the CSV, forecasts, alarms (autoencoder + rules), optionally the top
attributions of the harvest-titer forecast, and writing every output table. Process start
and run loading are reported separately. Target: at least 1,000 batches per minute on a
2-core CPU without pictures. Writes ``benchmarks/results/predict.json``.

Peak memory (``--rss_batches``, default 2,000 batches; 0 skips it): the resident-set peak of
a child process running ``python -m forecaster.predict --no_pictures --no_attributions``
(streamed, chunk by chunk), and of one running the whole-table path (``predict_table`` +
``write_outputs`` on the whole file, as predict did before streaming). Target: under 1 GB.

Without ``--run`` a run folder is trained with ``configs/debug.yaml`` but the default
network sizes (forecaster GRU 64 x 2 layers, default autoencoder), so the speed is that of
the default model; its accuracy does not matter here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_PER_MIN = 1000.0
#: default network sizes on the tiny debug data (speed, not accuracy)
BENCH_TRAIN_ARGS = [
    "--config", str(ROOT / "configs/debug.yaml"),
    "--model.hidden_size", "64", "--model.num_layers", "2",
    "--anomaly.autoencoder.hidden_size", "48", "--anomaly.autoencoder.latent_size", "12",
    "--explain.enabled", "false",
]  # fmt: skip


def ensure_run(run: str | None, workdir: Path) -> Path:
    """The given run folder, or a freshly trained benchmark run in ``workdir``."""
    if run:
        return Path(run)
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run as train

    cfg, text = parse_config(
        [*BENCH_TRAIN_ARGS, "--output_dir", str(workdir), "--run_name", "bench"]
    )
    print(
        "training a benchmark run folder (debug data, default network sizes) ...", file=sys.stderr
    )
    run_dir, _ = train(cfg, text, log=lambda *_: None)
    return run_dir


def bench_table(n_batches: int, days: float, seed: int) -> Path:
    """Simulated batch table (CSV), cached under ``data/bench/``."""
    from forecaster.data.io import atomic_path
    from forecaster.sim import SimConfig, simulate

    path = ROOT / "data" / "bench" / f"predict_{n_batches}x{days:g}d_seed{seed}.csv"
    if path.exists():  # a file cached by an older simulator lacks today's columns: remake it
        one = simulate(SimConfig(run_length_days=1.0), n_batches=1, seed=seed).table
        with open(path) as fh:
            header = set(fh.readline().strip().split(","))
        if not {c for c in one.columns if not c.startswith("policy_")} <= header:
            path.unlink()
    if not path.exists():
        t = simulate(SimConfig(run_length_days=days), n_batches=n_batches, seed=seed).table
        t = t.drop(columns=[c for c in t.columns if c.startswith("policy_")])
        with atomic_path(path) as tmp:
            t.to_csv(tmp, index=False)
    return path


RSS_TARGET_MB = 1024.0
_WHOLE = (
    "import sys; from forecaster.serve.predict import load_run, predict_table; "
    "from forecaster.serve.outputs import write_outputs; run = load_run(sys.argv[1]); "
    "write_outputs(predict_table(run, sys.argv[2], attributions=False, progress=False), "
    "sys.argv[3], pictures=False)"
)


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory (MB) of a child process running ``cmd`` (Linux: ru_maxrss in KB)."""
    import subprocess

    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    return int(done.stdout.split()[-1]) / 1024.0


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=None, help="run folder (default: train a small one)")
    p.add_argument("--n_batches", type=int, default=1000)
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    p.add_argument("--rss_batches", type=int, default=2000, help="batches of the memory test")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/predict.json"))
    a = p.parse_args(argv)
    from forecaster.data.io import atomic_write_text
    from forecaster.threads import set_threads

    n_threads = set_threads(a.threads)
    from forecaster.serve.outputs import write_outputs
    from forecaster.serve.predict import load_run, predict_table

    with tempfile.TemporaryDirectory() as work:
        run_dir = ensure_run(a.run, Path(work))
        t = time.perf_counter()
        table = bench_table(a.n_batches, a.days, a.seed)
        sim_s = time.perf_counter() - t
        t = time.perf_counter()
        run = load_run(run_dir)
        load_s = time.perf_counter() - t
        results = {}
        for attributions in (False, True):
            t = time.perf_counter()
            res = predict_table(run, table, attributions=attributions, progress=False)
            write_outputs(res, Path(work) / f"out_{attributions}", pictures=False, progress=False)
            wall = time.perf_counter() - t
            key = "with_attributions" if attributions else "without_attributions"
            results[key] = {
                "seconds": round(wall, 2),
                "batches_per_min": round(60.0 * len(res.predictions) / wall, 1),
                "n_predicted": len(res.predictions),
                "n_alarms": len(res.alarms),
                "phases_s": {k: round(v, 2) for k, v in res.seconds.items()},
            }
            print(
                f"{key}: {results[key]['batches_per_min']:.0f} batches/min ({wall:.1f} s)",
                file=sys.stderr,
            )
        memory = {}
        if a.rss_batches > 0:
            big = bench_table(a.rss_batches, a.days, a.seed)
            py = sys.executable
            memory = {
                "n_batches": a.rss_batches,
                "csv_mb": round(big.stat().st_size / 2**20, 1),
                "target_mb": RSS_TARGET_MB,
                "streamed_peak_rss_mb": round(peak_rss_mb(
                    [py, "-m", "forecaster.predict", "--run", str(run_dir), "--input", str(big),
                     "--out", str(Path(work) / "rss_streamed"), "--no_pictures",
                     "--no_attributions", "--no-progress", "--threads", str(a.threads)]), 1),
                "whole_table_peak_rss_mb": round(peak_rss_mb(
                    [py, "-c", _WHOLE, str(run_dir), str(big), str(Path(work) / "rss_whole")]), 1),
            }  # fmt: skip
            memory["meets_target"] = memory["streamed_peak_rss_mb"] < RSS_TARGET_MB
            print(f"peak RSS, {a.rss_batches} batches: streamed {memory['streamed_peak_rss_mb']} "
                  f"MB, whole table {memory['whole_table_peak_rss_mb']} MB", file=sys.stderr)  # fmt: skip
    out = {
        "n_batches": a.n_batches,
        "days": a.days,
        "run": str(a.run or "trained: configs/debug.yaml with default network sizes"),
        "forecaster": {
            "hidden_size": run.model.hparams["hidden_size"],
            "num_layers": run.model.hparams["num_layers"],
        },
        "target_batches_per_min": TARGET_PER_MIN,
        "meets_target": results["without_attributions"]["batches_per_min"] >= TARGET_PER_MIN,
        **results,
        "peak_memory": memory,
        "run_load_s": round(load_s, 2),
        "simulate_or_cache_s": round(sim_s, 2),
        "torch_threads": n_threads,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    atomic_write_text(a.out, json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
