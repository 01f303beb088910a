"""Detection delay per fault type on many fresh faults, against when each fault became visible.

    python benchmarks/bench_fault_delays.py --run-dir checkpoints/default [--n-per-type 40]
        [--refit-rules] [--refit-calibration]

The default run's test split holds only a few events of each fault type, so its per-type
median delays move by hours between seeds. This benchmark loads the anomaly detector of a
trained run folder, simulates ``--n-per-type`` fresh faulty batches of every fault type with
the run's simulator config (a seed the run never saw), and simulates each batch a second time
with the same seed and no fault (every other random draw is the same; see
``forecaster/sim/faults.py``), so the difference between the twins is the fault's effect and
nothing else. From the twins it measures, per fault:

- ``visible_h``: hours from the fault's start to the first row at which some online signal
  (readings and controller outputs) differs from its fault-free twin by more than
  ``--visible-sd`` x that signal's normal hour-to-hour noise (sd of the hourly differences
  over sqrt 2, on the fault-free twins after start-up). No detector can alarm reliably
  before this: it is the delay floor, as ``titer.noise_floor_mape`` is the titer floor.
  A frozen reading does not leave its twin's level, it loses its noise, so for
  ``sensor_stuck`` it is the first row at which the stuck reading repeats its previous
  value exactly.
- the combined (autoencoder + rules), autoencoder, rules and PCA delays from the fault's
  start (the metric of ``metrics.json``) and from ``visible_h``;
- false alarms per 100 batch-days on the fault-free twins.

``--refit-rules`` re-fits the rule set (not the scorers) on the run's fault-free training
batches before measuring (:func:`forecaster.anomaly.refit.refit_rules`), so a change to
the rules is measured on a trained run without retraining it. The training batches of a
simulated run are simulated again from its ``config.yaml`` and ``splits.json``; the rule
limits the run saved are compared with the re-fitted ones to show the batches are the same.
``--refit-calibration`` re-fits the autoencoder's step scale on those training batches and
every scorer's threshold on the run's fault-free validation batches
(:func:`forecaster.anomaly.refit.refit_calibration`; the networks are kept), so a change
to the calibration is measured without retraining; the PCA threshold it sets again is
compared with the saved one for the same check.

Prints a table and writes ``benchmarks/results/fault_delays.json``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from forecaster import schema
from forecaster.anomaly.config import EvalConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.metrics import match_faults
from forecaster.anomaly.refit import refit_calibration, refit_rules
from forecaster.anomaly.threshold import duration_days
from forecaster.pipeline.anomaly_eval import BARS, ONLINE_FAULTS
from forecaster.pipeline.config import load_config_file
from forecaster.sim import SimConfig, simulate

ROOT = Path(__file__).resolve().parents[1]  # default run folder and results file

#: Online signals whose fault-free twin difference defines when a fault became visible.
SIGNALS = (
    "do_pct", "ph", "temperature_C", "volume_L", "agitation_rpm", "airflow_L_min",
    "co2_flow_mL_min", "base_rate_mL_h",
)  # fmt: skip


def noise_sd(twins: pd.DataFrame, startup_h: float) -> dict[str, float]:
    """Per signal: sd of its hour-to-hour changes / sqrt 2 on fault-free batches."""
    out = {}
    for c in SIGNALS:
        if c not in twins:
            continue
        d = twins[twins[schema.TIME] >= startup_h].groupby(schema.BATCH_ID)[c].diff()
        out[c] = float(np.nanstd(d.to_numpy(float)) / np.sqrt(2.0))
    return out


def visible_after(
    faulty: pd.DataFrame, twin: pd.DataFrame, start_h: float, sd: dict[str, float], k: float
) -> float:
    """Hours from ``start_h`` to the first row where a signal leaves its twin by > k sd."""
    t = faulty[schema.TIME].to_numpy(float)
    first = np.inf
    for c, s in sd.items():
        diff = np.abs(faulty[c].to_numpy(float) - twin[c].to_numpy(float))
        hit = np.flatnonzero((t >= start_h) & (diff > k * max(s, 1e-12)))
        if hit.size:
            first = min(first, t[hit[0]] - start_h)
    return float(first)


def frozen_after(faulty: pd.DataFrame, start_h: float, variable: str) -> float:
    """Hours from ``start_h`` to the first row where ``variable`` repeats its last value."""
    t = faulty[schema.TIME].to_numpy(float)
    x = faulty[variable].to_numpy(float)
    hit = np.flatnonzero((t[1:] >= start_h) & (np.diff(x) == 0.0))
    return float(t[hit[0] + 1] - start_h) if hit.size else np.inf


def run_training_rows(run_dir: Path, cfg, splits: tuple[str, ...] = ("train",)) -> tuple:
    """Rows of the fault-free batches of each split of a simulated run, simulated again
    (one DataFrame per split, in the order asked; a single frame for one split)."""
    res = simulate(dataclasses.replace(cfg.sim, seed=cfg.seed))
    table = res.table
    table[schema.BATCH_ID] = table[schema.BATCH_ID].astype(str)
    bad = set(res.faults[schema.BATCH_ID].astype(str))
    if schema.FAULT_LABEL in table:
        bad |= set(table.loc[table[schema.FAULT_LABEL] > 0, schema.BATCH_ID])
    saved = json.loads((run_dir / "splits.json").read_text())
    out = tuple(table[table[schema.BATCH_ID].isin(set(saved[s]) - bad)] for s in splits)
    return out[0] if len(out) == 1 else out


def median_or_none(x: list[float]) -> float | None:
    """Median of the finite values (2 decimals), None without any."""
    x = [v for v in x if np.isfinite(v)]
    return round(float(np.median(x)), 2) if x else None


def type_delays(recs: list[dict], visible: dict[str, float]) -> dict:
    """Recall and median delays (from the fault's start and from its visibility, h) of the
    matched fault records of one fault type (``match_faults`` rows)."""
    caught = [r for r in recs if r["caught"]]
    return {
        "recall": round(len(caught) / len(recs), 3) if recs else None,
        "median_delay_h": median_or_none([r["delay_h"] for r in caught]),
        "median_delay_after_visible_h": median_or_none(
            [max(r["delay_h"] - visible[r["batch_id"]], 0.0) for r in caught]
        ),
    }


def fault_twins(
    sim_base, n_per_type: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Faulty batches, their fault-free twins and the fault table.

    Fault type ``i`` is simulated with seed ``seed + i`` (every batch with a fault of that
    type), then again without faults (every other random draw the same); ids are prefixed
    per type so they are unique, and the twins carry ``twin-`` before the faulty id.
    """
    faulty_tables, twin_tables, fault_tables = [], [], []
    for i, name in enumerate(schema.FAULT_TYPES):
        sim_cfg = copy.deepcopy(sim_base)
        sim_cfg.faults.rate = 1.0
        for other in schema.FAULT_TYPES:
            getattr(sim_cfg.faults, other).weight = 1.0 if other == name else 0.0
        res = simulate(sim_cfg, n_batches=n_per_type, seed=seed + i)
        sim_cfg.faults.rate = 0.0
        twin = simulate(sim_cfg, n_batches=n_per_type, seed=seed + i).table
        for tab in (res.table, twin, res.faults):  # unique ids across the fault types
            tab[schema.BATCH_ID] = f"{name[:4]}{i}-" + tab[schema.BATCH_ID].astype(str)
        faulty_tables.append(res.table)
        twin_tables.append(twin)
        fault_tables.append(res.faults)
    table, twins = pd.concat(faulty_tables), pd.concat(twin_tables)
    twins[schema.BATCH_ID] = "twin-" + twins[schema.BATCH_ID]
    return table, twins, pd.concat(fault_tables, ignore_index=True)


def fault_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that fix the faults and their twins (shared with the peer benchmark, so
    both measure the same batches): run folder, faults per type, seed, visibility sds."""
    ap.add_argument("--run-dir", type=Path, default=ROOT / "checkpoints" / "default")
    ap.add_argument("--n-per-type", type=int, default=40)
    ap.add_argument("--seed", type=int, default=9001, help="simulation seed (not the run's)")
    ap.add_argument("--visible-sd", type=float, default=3.0)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    fault_arguments(ap)
    ap.add_argument("--refit-rules", action="store_true",
                    help="re-fit the rule set on the run's training batches first")  # fmt: skip
    ap.add_argument("--refit-calibration", action="store_true",
                    help="re-fit the step scale and thresholds on the run's batches first")  # fmt: skip
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "fault_delays.json"
    )
    args = ap.parse_args()
    if not (args.run_dir / "anomaly").is_dir():
        sys.exit(f"error: {args.run_dir}/anomaly not found; train first, e.g. "
                 f"python train.py --config configs/default.yaml --run_name {args.run_dir.name}")  # fmt: skip
    det = AnomalyDetector.load(args.run_dir)
    dets = (*det.names, "rules")
    if (args.run_dir / "config.yaml").exists():
        cfg, _ = load_config_file(args.run_dir / "config.yaml")
        if cfg.data.path:
            sys.exit(f"error: {args.run_dir} was trained on {cfg.data.path}; this benchmark "
                     "simulates faults, so it needs a run trained on simulated data")  # fmt: skip
        sim_base, grace = cfg.sim, float(cfg.anomaly.eval.grace_h)
    else:  # a folder of bench_anomaly.py: default simulator and evaluation settings
        sim_base, grace = SimConfig(), EvalConfig().grace_h
    refit: dict = {}
    recal: dict = {}
    if args.refit_rules or args.refit_calibration:
        if (
            not (args.run_dir / "config.yaml").exists()
            or not (args.run_dir / "splits.json").exists()
        ):
            sys.exit(f"error: --refit-* needs {args.run_dir}/config.yaml and splits.json")
        train_rows, val_rows = run_training_rows(args.run_dir, cfg, ("train", "val"))
    if args.refit_calibration:
        t0 = time.perf_counter()
        old_thr = {s.name: c.threshold for s, c in det.scorers}
        det = refit_calibration(det, train_rows, val_rows, cfg.anomaly.autoencoder.step_window_h)
        recal = {"seconds": round(time.perf_counter() - t0, 1),
                 "saved_thresholds": old_thr,
                 "thresholds": {s.name: c.threshold for s, c in det.scorers},
                 "step_window_h": cfg.anomaly.autoencoder.step_window_h}  # fmt: skip
    if args.refit_rules:
        t0 = time.perf_counter()
        old = dict(det.consistency.train_max) if det.consistency else {}
        det = refit_rules(det, train_rows)
        new = det.consistency.train_max if det.consistency else {}
        same = all(abs(new.get(k, np.nan) - v) <= 1e-9 * max(abs(v), 1.0) for k, v in old.items())
        refit = {"seconds": round(time.perf_counter() - t0, 1), "saved_limits_reproduced": same,
                 "limits": {k: round(v, 4) for k, v in new.items()}}  # fmt: skip
        if not same:
            print("warning: the re-fitted rule limits differ from the saved ones "
                  f"(saved {old}, re-fitted {new}): the training batches were not reproduced")  # fmt: skip
    startup = float(det.rules.startup_h)

    t0 = time.perf_counter()
    table, twins, faults = fault_twins(sim_base, args.n_per_type, args.seed)
    t_sim = time.perf_counter() - t0
    sd = noise_sd(twins, startup)

    t0 = time.perf_counter()
    events: dict[str, list] = {d: [] for d in dets}
    twin_days = 0.0
    groups = {b: g.reset_index(drop=True) for b, g in table.groupby(schema.BATCH_ID)}
    twin_groups = {b: g.reset_index(drop=True) for b, g in twins.groupby(schema.BATCH_ID)}
    for bid, rows in tqdm({**groups, **twin_groups}.items(), desc="detecting", unit="batch"):
        s = det.stream(bid, detectors=dets)
        s.update(rows)
        for e in s.events:
            events[e.detector].append(e)
        if bid.startswith("twin-"):
            twin_days += float(duration_days(rows[schema.TIME].to_numpy(float)))
    t_det = time.perf_counter() - t0

    visible = {}
    for f in faults.itertuples(index=False):
        rows, start = groups[f.batch_id], float(f.start_h)
        if f.type == "sensor_stuck":
            visible[f.batch_id] = frozen_after(rows, start, str(f.affected))
        else:
            twin = twin_groups["twin-" + f.batch_id]
            visible[f.batch_id] = visible_after(rows, twin, start, sd, args.visible_sd)
    events["combined"] = [e for d in det.default_detectors for e in events[d]]
    recs = {d: match_faults(ev, faults, grace) for d, ev in events.items()}

    med = median_or_none
    out: dict = {
        "run_dir": str(args.run_dir), "n_per_type": args.n_per_type, "seed": args.seed,
        "visible_sd": args.visible_sd, "noise_sd": {k: round(v, 5) for k, v in sd.items()},
        "bar_median_delay_h_online": BARS["median_delay_h_online_max"],
        "bar_median_delay_h_starvation": BARS["median_delay_h_starvation_max"],
        "false_alarms_per_100_batch_days": {
            d: round(100.0 * sum(e.batch_id.startswith("twin-") for e in ev) / twin_days, 3)
            for d, ev in events.items()
        },
        "fault_free_batch_days": round(twin_days, 1),
        "rules_refit": refit or None,
        "calibration_refit": recal or None,
        "by_type": {},
        "seconds": {"simulate": round(t_sim, 1), "detect": round(t_det, 1)},
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }  # fmt: skip
    for name in schema.FAULT_TYPES:
        row: dict = {"n_events": int((faults["type"] == name).sum()),
                     "median_visible_h": med([visible[b] for b in faults.loc[faults["type"] == name, schema.BATCH_ID]]),
                     "online": name in ONLINE_FAULTS}  # fmt: skip
        for d, rr in recs.items():
            row[d] = type_delays([r for r in rr if r["type"] == name], visible)
        out["by_type"][name] = row

    hdr = f"{'fault type':30s} {'n':>3s} {'visible':>8s} {'combined':>9s} {'after vis':>9s} {'AE':>6s} {'rules':>6s} {'PCA':>6s}"
    print(hdr)
    for name, row in out["by_type"].items():
        c = row["combined"]

        def f(x):
            return "-" if x is None else f"{x:.1f}"

        print(f"{name:30s} {row['n_events']:3d} {f(row['median_visible_h']):>8s} {f(c['median_delay_h']):>9s} "
              f"{f(c['median_delay_after_visible_h']):>9s} {f(row['autoencoder']['median_delay_h']):>6s} "
              f"{f(row['rules']['median_delay_h']):>6s} {f(row.get('pca', {}).get('median_delay_h')):>6s}")  # fmt: skip
    print("false alarms / 100 fault-free batch-days:", out["false_alarms_per_100_batch_days"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
