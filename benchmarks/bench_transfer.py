"""Transfer from the simulator: the sequence model trained from scratch on 10-80 of the
user's batches against pre-trained on simulated batches and fine-tuned on the same ones.

Usage: ``python benchmarks/bench_transfer.py [--sizes 10 20 40 80] [--seeds 0]
[--sim_batches 200] [--pretrain_epochs 10] [--ladder]``.

The "user" is our simulator with another kinetic parameterisation, so transfer is not the
same process twice (:data:`USER_CHANGES`): slower growth (mu_max mean 0.041 -> 0.034 1/h),
higher specific productivity (qP 14 -> 20 pg/cell/day), an earlier and colder temperature
shift (day 5 -> 4, 33 -> 31.5 C) and a larger lactate yield (1.0 -> 1.3 mol/mol); fault-free,
14 days, rows every 2 h, assays every 24 h. Pre-training uses the simulator's default
parameterisation, rendered on the user's grid by :func:`forecaster.models.pretrain.render_sim`.

Per seed: ``max(sizes) + 40`` user batches are simulated once; the first ``n`` are the
user's (the last 20 % of them validation batches for early stopping), the last 40 the test
batches. Both arms start from the same initial weights and fine-tune with the same step
budget; the pre-trained one first trains ``pretrain_epochs`` epochs on ``sim_batches``
simulated batches (scales fitted on the user's training batches) and fine-tunes at half
the learning rate. ``--ladder`` also scores the ladder's chosen forecast with each model as
its sequence rung. Prints the harvest-titer MAPE table by origin day and writes
``benchmarks/results/transfer.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.models.forecast_config import ForecastConfig
from forecaster.models.pretrain import fit_phase, pretrain, render_sim, user_shape
from forecaster.models.sequence import SequenceForecaster
from forecaster.pipeline.evaluate import evaluate_sequence
from forecaster.sim import Dist, SimConfig, simulate

RESULTS = Path(__file__).resolve().parent / "results" / "transfer.json"
DAYS = (3, 5, 7, 10)
N_TEST = 40
#: how the "user's" process differs from the simulator's defaults (Variability fields)
USER_CHANGES = {
    "mu_max_1_h": Dist(0.034, 0.07, 0.025, 0.04),
    "qp_pg_cell_day": Dist(20.0, 0.2, 8.0, 45.0),
    "temperature_shift_day": Dist(4.0, 0.12, 3.0, 5.0, 0.5),
    "temperature_post_shift_C": Dist(31.5, 0.03, 30.0, 33.0, 0.5),
    "lactate_yield_mol_mol": Dist(1.3, 0.12, 0.7, 1.9),
}
#: the model and its training (the quick-start settings)
MODEL = ForecastConfig(hidden_size=64, num_layers=1, dropout=0.0, batch_size=8, lr=3e-3)
TRAIN = {"max_epochs": 30, "min_steps": 250, "patience": 8}
QUIET = {"accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
         "enable_model_summary": False, "logger": False}  # fmt: skip


def no_faults(cfg: SimConfig, **changes) -> SimConfig:
    return dataclasses.replace(cfg, faults=dataclasses.replace(cfg.faults, rate=0.0), **changes)


def user_config() -> SimConfig:
    """The "user's" process: the simulator with :data:`USER_CHANGES`, 2-hourly rows."""
    base = SimConfig()
    var = dataclasses.replace(base.variability, **USER_CHANGES)
    return no_faults(base, variability=var, sample_interval_h=2.0, run_length_days=14.0)


def fit_arm(train, val, sim, seed: int, lr_scale: float, pretrain_epochs: int) -> tuple:
    """One model: built on the user's batches, optionally pre-trained on ``sim``, fitted."""
    torch.manual_seed(seed)  # both arms start from the same weights
    model = SequenceForecaster.build(MODEL, train)
    info: dict = {}
    if sim is not None:
        info["pretrain"] = pretrain(model, sim, MODEL, epochs=pretrain_epochs, seed=seed,
                                    trainer_kwargs=QUIET)  # fmt: skip
    info["fit"] = fit_phase(model, train, val, MODEL, **TRAIN, lr_scale=lr_scale, seed=seed,
                            trainer_kwargs=QUIET)  # fmt: skip
    return model, info


def one(n: int, seed: int, groups: dict, sims: dict, args) -> dict:
    """Both arms with the first ``n`` user batches."""
    from forecaster.pipeline.ladder import run_ladder

    ids = sorted(groups)
    pool, test_ids = ids[:n], ids[-N_TEST:]
    n_val = max(2, round(0.2 * n))
    cat = lambda s: pd.concat([groups[b] for b in s], ignore_index=True)  # noqa: E731
    train, val, test = cat(pool[:-n_val]), cat(pool[-n_val:]), [groups[b] for b in test_ids]
    shape = user_shape(train)
    key = repr(shape)
    if key not in sims:  # the same grid for every n: simulate once
        sims[key] = render_sim(shape, SimConfig(), args.sim_batches, seed + 1000)
    out: dict = {}
    for arm, sim, lr_scale in (("scratch", None, 1.0), ("pretrained", sims[key], 0.5)):
        t0 = time.perf_counter()
        model, info = fit_arm(train, val, sim, seed, lr_scale, args.pretrain_epochs)
        ev = evaluate_sequence(model, test, DAYS)["titer"]
        res = {"harvest_mape_by_day": ev["harvest_mape_by_day"], **info}
        if args.ladder:
            lad = run_ladder(train, val, cat(test_ids), sequence=model, origin_days=DAYS,
                             k=min(5, max(2, n // 2)), seed=seed)  # fmt: skip
            res["ladder_sequence"] = lad["sequence"]["harvest_mape_by_day"]
            res["ladder_chosen"] = lad["chosen"]["harvest_mape_by_day"]
            res["chosen_rung_by_day"] = lad["chosen"]["rung_by_day"]
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        out[arm] = res
        print(f"n={n} seed={seed} {arm}: {res['wall_s']} s "
              + " ".join(f"d{d}={v:.1%}" for d, v in res["harvest_mape_by_day"].items()),
              flush=True)  # fmt: skip
    return out


def table(res: dict, sizes, seeds, ladder: bool) -> dict:
    """Mean over seeds: ``{n: {row: {day: MAPE}}}``, printed as it is built."""
    rows = [("scratch", "harvest_mape_by_day"), ("pretrained", "harvest_mape_by_day")]
    if ladder:
        rows += [("scratch", "ladder_chosen"), ("pretrained", "ladder_chosen")]
    print(f"\nharvest-titer MAPE on {N_TEST} held-out user batches, mean over seeds {seeds}")
    print(f"{'n':>3} {'model':<22}" + "".join(f"{'day ' + str(d):>9}" for d in DAYS))
    out: dict = {}
    for n in sizes:
        for arm, key in rows:
            runs = [res["runs"][f"{n}/{s}"][arm][key] for s in seeds]
            vals = [float(np.mean([r[str(d)] for r in runs])) for d in DAYS]
            name = arm + (" (ladder chosen)" if key == "ladder_chosen" else "")
            out.setdefault(str(n), {})[name] = dict(zip(map(str, DAYS), vals))
            print(f"{n:>3} {name:<22}" + "".join(f"{v:>9.1%}" for v in vals))
    return out


def main() -> None:
    from forecaster.pipeline.cli import quiet_lightning

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40, 80])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--sim_batches", type=int, default=200)
    ap.add_argument("--pretrain_epochs", type=int, default=10)
    ap.add_argument("--min_steps", type=int, default=TRAIN["min_steps"])
    ap.add_argument("--ladder", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    TRAIN["min_steps"] = args.min_steps
    quiet_lightning()
    torch.set_num_threads(1)
    t_all = time.perf_counter()
    res: dict = {
        "user_changes": {k: dataclasses.asdict(v) for k, v in USER_CHANGES.items()},
        "model": dataclasses.asdict(MODEL), "train": TRAIN, "sizes": args.sizes,
        "seeds": args.seeds, "n_test": N_TEST, "sim_batches": args.sim_batches,
        "pretrain_epochs": args.pretrain_epochs, "finetune_lr_scale": 0.5, "runs": {},
    }  # fmt: skip
    for seed in args.seeds:
        tab = simulate(user_config(), n_batches=max(args.sizes) + N_TEST, seed=seed).table
        tab = tab.drop(columns=[c for c in tab if c.startswith("policy_")])
        groups = {str(b): g for b, g in tab.groupby(schema.BATCH_ID, sort=True)}
        sims: dict = {}
        for n in args.sizes:
            res["runs"][f"{n}/{seed}"] = one(n, seed, groups, sims, args)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(res, indent=1))  # partial results survive a timeout
    res["mape_by_size"] = table(res, args.sizes, args.seeds, args.ladder)
    res["total_s"] = round(time.perf_counter() - t_all, 1)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"total {res['total_s']:.0f} s; written {args.out}")


if __name__ == "__main__":
    main()
