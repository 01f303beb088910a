"""Benchmark: how predictable is the harvest titer from day d, on the default simulator?

Usage: ``python benchmarks/titer_predictability.py [--n_batches 2500] [--seed 7]``. Simulates
``n_batches`` default batches, keeps the fault-free ones, and per forecast origin d (days 3, 5,
7, 10) reports, as MAPE of the harvest titer (%), against the TRUE and the MEASURED titer (the
last titer assay, CV 5 %):

1. Learned oracles (5-fold cross-validated HistGradientBoosting on log harvest titer):
   ``all_params`` (every drawn batch parameter, no data); ``observable`` (noise-free daily
   states up to day d plus what the data show by day d: setpoints, feed, inoculum, initial
   medium, and the shift day and post-shift temperature once the shift has happened);
   ``identifiable`` (``observable`` plus the kinetic parameters that have acted by day d, i.e.
   everything except the later-acting ones below). A learned oracle is an achievable error
   with ~1,200 training batches, not a lower bound.
2. Bayes floors (re-simulation, a lower bound for ANY model given the same information): each
   of ``--n_base`` batches is re-simulated ``--n_copies`` times with everything known by day d
   kept (parameters, noise up to day d) and the later-acting parameters and all noise after
   day d redrawn; the floor is the MAPE of the best constant forecast per batch. Later-acting
   (hidden) parameters at day d: shift day, post-shift temperature and shift gain while the
   shift is after day d; death onset while it is more than 48 h after day d; the VCD capacity
   at days 3 and 5 (``capacity footprint`` says how much it moves the day-d VCD). Variant
   ``schedule_known``: the planned shift day and post-shift temperature are given.
3. Variance decomposition: the share of the out-of-fold log-residual variance of the
   ``identifiable`` oracle that each drawn parameter explains on its own (out-of-fold binned
   means; parameters are drawn independently, so the shares are first-order indices).

Prints a table and writes ``benchmarks/results/titer_predictability.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from forecaster.sim import SimConfig, simulate
from forecaster.sim.config import Variability
from forecaster.sim.engine import Trajectory
from forecaster.sim.engine import run as run_engine
from forecaster.sim.faults import draw_faults
from forecaster.sim.feed_policy import get_policy
from forecaster.sim.noise import ADDITIVE_SD, ASSAY_CV, Noise
from forecaster.sim.params import Streams, draw_batch_params, from_normal

RESULTS = Path(__file__).resolve().parent / "results" / "titer_predictability.json"
DAYS = (3, 5, 7, 10)
DRAWN = tuple(f.name for f in fields(Variability))
STATES = ("xv", "xd", "glc", "gln", "lac", "amm", "titer", "vol")
#: Set by the operator or read from the data at day 0.
OPERATOR = (
    "inoculum_vcd_1e6_cells_mL", "inoculum_viability_pct", "initial_glucose_g_L",
    "initial_glutamine_mM", "initial_lactate_g_L", "initial_ammonia_mM", "initial_volume_L",
    "temperature_pre_shift_C", "do_setpoint_pct", "ph_setpoint", "feed_glucose_g_L",
    "feed_start_day",
)  # fmt: skip
#: Hidden biology that acts from day 0 (identifiable in principle from the trajectory).
EARLY_KINETICS = (
    "mu_max_1_h", "qp_pg_cell_day", "glucose_uptake_scale", "lactate_yield_mol_mol",
    "qo2_pmol_cell_h", "kla_sparge_max_1_h",
)  # fmt: skip
SHIFT = ("temperature_shift_day", "temperature_post_shift_C")
DEATH_LEAD_H = 48.0  # death onset counts as acting from 48 h before it (sigmoid width 24 h)
CAPACITY_HIDDEN_DAYS = (3, 5)
HIDDEN_GROUPS = {
    "shift_schedule": SHIFT,
    "qp_shift_gain": ("qp_shift_gain",),
    "vcd_capacity": ("vcd_capacity_1e6_cells_mL",),
    "death_onset": ("death_onset_h",),
    "all_but_capacity": SHIFT + ("qp_shift_gain", "death_onset_h"),
}


def mape(pred: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error (%)."""
    return float(100.0 * np.mean(np.abs(pred - actual) / actual))


def truth_run(cfg: SimConfig, n: int, seed: int) -> tuple[dict, Noise, Trajectory]:
    """``simulate``'s own draws and time loop, returning the true states (same seed = same run)."""
    cfg = replace(cfg, n_batches=n, seed=seed)
    streams = Streams.from_seed(seed)
    p = draw_batch_params(cfg, n, streams.params)
    plan = draw_faults(cfg.faults, p["run_length_h"], cfg.sample_interval_h, streams.faults)
    n_rows = int(round(p["run_length_h"].max() / cfg.sample_interval_h)) + 1
    noise = Noise.draw(cfg, n_rows, n, streams)
    return p, noise, run_engine(cfg, p, plan, noise, get_policy(cfg.feed_policy))


def hidden_masks(p: dict[str, np.ndarray], day: int, schedule_known: bool) -> dict:
    """Parameter -> (n,) bool: not yet acting (so unknowable) at the origin ``day``."""
    origin_h = 24.0 * day
    later_shift = p["temperature_shift_h"] > origin_h
    masks = {"qp_shift_gain": later_shift}
    if not schedule_known:
        masks.update({name: later_shift for name in SHIFT})
    masks["death_onset_h"] = p["death_onset_h"] > origin_h + DEATH_LEAD_H
    if day in CAPACITY_HIDDEN_DAYS:
        masks["vcd_capacity_1e6_cells_mL"] = np.ones_like(later_shift)
    return masks


def features(
    p: dict[str, np.ndarray], rec: dict[str, np.ndarray], day: int | None, kinetics: bool
) -> np.ndarray:
    """(n, F) oracle inputs; ``day=None``: all drawn parameters, no states."""
    if day is None:
        return np.column_stack([p[name] for name in DRAWN])
    rows = np.arange(day + 1) * 24  # daily noise-free states, sample grid 1 h
    xv, xd = rec["xv"][rows], rec["xd"][rows]
    states = [np.log(xv), xv / (xv + xd), np.log1p(rec["titer"][rows])]
    states += [rec[name][rows] for name in ("glc", "gln", "lac", "amm", "vol")]
    known = list(OPERATOR) + (list(EARLY_KINETICS) if kinetics else [])
    cols = [p[name] for name in known]
    masks = hidden_masks(p, day, schedule_known=False)
    later = ["qp_shift_gain", "death_onset_h", "vcd_capacity_1e6_cells_mL"] if kinetics else []
    for name in list(SHIFT) + later:  # NaN = not yet known (HGB handles NaN natively)
        cols.append(np.where(masks.get(name, False), np.nan, p[name]))
    return np.column_stack([s.T for s in states] + cols)


def oof_predict(x: np.ndarray, y: np.ndarray, seed: int, train_frac: float = 1.0) -> np.ndarray:
    """5-fold out-of-fold predictions of ``y`` (optionally on a fraction of each train fold)."""
    out = np.empty_like(y)
    rng = np.random.default_rng(seed)
    for tr, te in KFold(5, shuffle=True, random_state=seed).split(x):
        if train_frac < 1.0:
            tr = rng.choice(tr, int(train_frac * tr.size), replace=False)
        model = HistGradientBoostingRegressor(
            learning_rate=0.05, max_iter=600, min_samples_leaf=10, l2_regularization=1e-3,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=30,
            random_state=seed,
        )  # fmt: skip
        use = ~np.all(np.isnan(x[tr]), axis=0)  # e.g. the shift day before any shift
        out[te] = model.fit(x[tr][:, use], y[tr]).predict(x[te][:, use])
    return out


def first_order_shares(resid: np.ndarray, p: dict[str, np.ndarray], seed: int) -> dict:
    """Share (%) of residual variance each parameter explains alone (out-of-fold bin means)."""
    sst = float(np.sum((resid - resid.mean()) ** 2))
    shares = {}
    for name in DRAWN:
        v = p[name]
        uniq = np.unique(v)
        edges = uniq[:-1] if uniq.size <= 12 else np.quantile(v, np.linspace(0, 1, 11)[1:-1])
        b = np.searchsorted(edges, v, side="right") if uniq.size <= 12 else np.digitize(v, edges)
        pred = np.empty_like(resid)
        for tr, te in KFold(5, shuffle=True, random_state=seed).split(v):
            means = np.full(b.max() + 1, resid[tr].mean())
            for k in np.unique(b[tr]):
                means[k] = resid[tr][b[tr] == k].mean()
            pred[te] = means[b[te]]
        shares[name] = round(max(0.0, 100.0 * (1.0 - np.sum((resid - pred) ** 2) / sst)), 1)
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def tile_noise(noise: Noise, idx: np.ndarray, k: int) -> Noise:
    """Noise of batches ``idx``, each repeated ``k`` times (batch axis is the last)."""
    cols = np.repeat(idx, k)
    z = {name: np.ascontiguousarray(a[:, cols]) for name, a in noise.z.items()}
    return Noise(z, np.ascontiguousarray(noise.operator[:, cols]), noise.process[:, cols].copy())


def redraw_after(noise: Noise, cfg: SimConfig, origin_h: float, rng: np.random.Generator) -> None:
    """Replace, in place, every noise draw that lies after ``origin_h`` by a fresh one."""
    m, si = cfg.measurement, cfg.sample_interval_h
    scale = {name: getattr(m, attr) for name, attr in {**ASSAY_CV, **ADDITIVE_SD}.items()}
    row0 = int(round(origin_h / si)) + 1
    for name, a in noise.z.items():
        a[row0:] = scale[name] * rng.standard_normal(a[row0:].shape)
    dec0 = int(round(origin_h / cfg.assay_interval_h)) + 1  # the decision at day d is known
    sigma = np.sqrt(np.log1p(cfg.feed.noise_cv**2))
    op = noise.operator[dec0:]
    op[:] = np.exp(sigma * rng.standard_normal(op.shape) - 0.5 * sigma * sigma)
    step0 = int(np.ceil(origin_h / cfg.dt_h - 1e-9))
    noise.process[step0:] = rng.standard_normal(noise.process[step0:].shape)


def redraw_param(
    cfg: SimConfig, name: str, where: np.ndarray, floor: np.ndarray | None, rng
) -> np.ndarray:
    """Fresh prior draws of ``name`` for rows ``where``, conditioned on ``> floor`` if given."""
    dist = getattr(cfg.variability, name)
    out = np.full(where.shape, np.nan)
    todo = where.copy()
    while todo.any():
        new = from_normal(dist, rng.standard_normal(todo.sum()))
        ok = np.ones_like(new, dtype=bool) if floor is None else new > floor[todo]
        idx = np.flatnonzero(todo)[ok]
        out[idx] = new[ok]
        todo[idx] = False
    return out


def bayes_floor(
    cfg: SimConfig,
    p: dict[str, np.ndarray],
    noise: Noise,
    base: np.ndarray,
    day: int | None,
    k: int,
    schedule_known: bool,
    seed: int,
    only: tuple[str, ...] | None = None,
) -> dict[str, float]:
    """MAPE (%) of the best per-batch constant forecast over redraws of what is unknown at day d.

    ``day=None``: every parameter known, all noise redrawn (the process's own randomness).
    ``only``: redraw just these hidden parameters (the others stay known).
    """
    rng = np.random.default_rng(seed)
    n = base.size * k
    q = {name: np.repeat(v[base], k) for name, v in p.items()}
    tiled = tile_noise(noise, base, k)
    origin_h = 0.0 if day is None else 24.0 * day
    redraw_after(tiled, cfg, origin_h if day is not None else -1.0, rng)
    footprint = float("nan")
    if day is not None:
        masks = hidden_masks(q, day, schedule_known)
        masks = {k: v for k, v in masks.items() if only is None or k in only}
        for name, mask in masks.items():
            floor = None
            if name == "temperature_shift_day":  # still unshifted at day d: shift after it
                floor = np.full(n, day + 1e-6)
            elif name == "death_onset_h":
                floor = np.full(n, origin_h + DEATH_LEAD_H)
            q[name] = np.where(mask, redraw_param(cfg, name, mask, floor, rng), q[name])
        si = cfg.sample_interval_h
        q["temperature_shift_h"] = np.round(q["temperature_shift_day"] * 24.0 / si) * si
    plan = draw_faults(replace(cfg.faults, rate=0.0), q["run_length_h"], cfg.sample_interval_h, rng)
    traj = run_engine(cfg, q, plan, tiled, get_policy(cfg.feed_policy))
    last = int(round(q["run_length_h"].max() / cfg.sample_interval_h))
    y = traj.rec["titer"][last].reshape(base.size, k)
    if day is not None:
        xv_d = traj.rec["xv"][int(round(origin_h / cfg.sample_interval_h))].reshape(base.size, k)
        footprint = float(100.0 * np.mean(xv_d.std(axis=1) / xv_d.mean(axis=1)))
    # measured = true x (1 + cv z): 16 assay draws per copy
    meas = np.repeat(y, 16, axis=1) * (
        1.0 + cfg.measurement.titer_cv * rng.standard_normal((base.size, 16 * k))
    )  # noqa: E501
    return {
        "true": round(_best_constant_mape(y), 2),
        "measured": round(_best_constant_mape(meas), 2),
        "titer_cv_pct": round(float(100.0 * np.mean(y.std(axis=1) / y.mean(axis=1))), 2),
        "vcd_footprint_pct": round(footprint, 2),
    }


def replay_check(cfg: SimConfig, p: dict, noise: Noise, base: np.ndarray, y: np.ndarray) -> None:
    """Re-simulating ``base`` with nothing redrawn must reproduce its harvest titer exactly."""
    q = {name: v[base] for name, v in p.items()}
    plan = draw_faults(replace(cfg.faults, rate=0.0), q["run_length_h"], cfg.sample_interval_h,
                       np.random.default_rng(0))  # fmt: skip
    traj = run_engine(cfg, q, plan, tile_noise(noise, base, 1), get_policy(cfg.feed_policy))
    if not np.allclose(traj.rec["titer"][-1], y[base], rtol=1e-9):
        raise RuntimeError("re-simulation does not reproduce the base batches")


def _best_constant_mape(y: np.ndarray) -> float:
    """Mean over rows of min_c mean_j |y_j - c| / y_j (weighted median, weights 1 / y)."""
    order = np.argsort(y, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    w = 1.0 / ys
    cw = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    c = ys[np.arange(ys.shape[0]), np.argmax(cw >= 0.5, axis=1)]
    return mape(np.broadcast_to(c[:, None], y.shape), y)


def main() -> None:
    """Run the analysis, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--n_batches", type=int, default=2500, help="simulated (about 60 %% fault-free)"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n_base", type=int, default=150, help="batches re-simulated for the floors")
    ap.add_argument("--n_copies", type=int, default=12, help="redraws per re-simulated batch")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cfg = SimConfig()
    res = simulate(cfg, n_batches=args.n_batches, seed=args.seed)
    p_all, noise, traj = truth_run(cfg, args.n_batches, args.seed)
    keep = np.flatnonzero(res.batches["fault_type"].to_numpy() == "none")
    ids = res.batches["batch_id"].to_numpy()[keep]
    y_true = res.batches["harvest_titer_true_mg_L"].to_numpy()[keep]
    last = len(traj.rec["titer"]) - 1
    assert np.allclose(traj.rec["titer"][last, keep], y_true), "truth run differs from simulate"
    titer = res.table.dropna(subset=["titer_mg_L"]).groupby("batch_id")["titer_mg_L"].last()
    y_meas = titer.loc[ids].to_numpy()
    p = {name: v[keep] for name, v in p_all.items()}
    rec = {name: traj.rec[name][:, keep] for name in STATES}
    t_sim = time.perf_counter() - t0

    log_y = np.log(y_true)
    out: dict[str, object] = {
        "n_simulated": args.n_batches,
        "n_fault_free": int(keep.size),
        "seed": args.seed,
        "noise_floor_measured_vs_true_pct": round(mape(y_true, y_meas), 2),
        "harvest_titer_true_cv_pct": round(float(100 * y_true.std() / y_true.mean()), 1),
        "days": {},
    }
    with threadpool_limits(1):
        pred = np.exp(oof_predict(features(p, rec, None, True), log_y, args.seed))
        pred_half = np.exp(oof_predict(features(p, rec, None, True), log_y, args.seed, 0.5))
    base = np.arange(min(args.n_base, keep.size))
    replay_check(cfg, p, _sub(noise, keep), base, y_true)
    out["all_params"] = {
        "learned_true": round(mape(pred, y_true), 2),
        "learned_measured": round(mape(pred, y_meas), 2),
        "learned_true_half_train": round(mape(pred_half, y_true), 2),
        "floor": bayes_floor(cfg, p, _sub(noise, keep), base, None, args.n_copies, False, 1),
    }
    for day in DAYS:
        row: dict[str, object] = {}
        for name, kin in (("observable", False), ("identifiable", True)):
            x = features(p, rec, day, kin)
            with threadpool_limits(1):
                lp = oof_predict(x, log_y, args.seed)
                lp_half = oof_predict(x, log_y, args.seed, 0.5)
            row[name] = {
                "learned_true": round(mape(np.exp(lp), y_true), 2),
                "learned_measured": round(mape(np.exp(lp), y_meas), 2),
                "learned_true_half_train": round(mape(np.exp(lp_half), y_true), 2),
                "residual_shares_pct": first_order_shares(log_y - lp, p, args.seed),
            }
        sub = _sub(noise, keep)
        row["floor"] = bayes_floor(cfg, p, sub, base, day, args.n_copies, False, 10 + day)
        if day in CAPACITY_HIDDEN_DAYS:
            row["floor_schedule_known"] = bayes_floor(
                cfg, p, sub, base, day, args.n_copies, True, 20 + day
            )
            # one hidden group at a time; "no_capacity" = only the zero-footprint ones
            row["floor_one_hidden"] = {
                group: bayes_floor(cfg, p, sub, base, day, args.n_copies, False, 30 + i, names)
                for i, (group, names) in enumerate(HIDDEN_GROUPS.items())
            }
        out["days"][str(day)] = row
        print(f"day {day} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    out["seconds"] = {"simulate": round(t_sim, 1), "total": round(time.perf_counter() - t0, 1)}
    out["machine"] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    _print_table(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


def _sub(noise: Noise, keep: np.ndarray) -> Noise:
    """Noise of the kept batches only."""
    return Noise(
        {name: a[:, keep] for name, a in noise.z.items()},
        noise.operator[:, keep],
        noise.process[:, keep],
    )


def _print_table(out: dict) -> None:
    """Compact per-day table (MAPE %, true / measured)."""
    a = out["all_params"]
    print(
        f"\n{out['n_fault_free']} fault-free batches; assay noise floor (measured vs true) "
        f"{out['noise_floor_measured_vs_true_pct']} %; harvest titer CV {out['harvest_titer_true_cv_pct']} %"
    )
    print(
        f"all params known: learned {a['learned_true']} / {a['learned_measured']}, "
        f"floor {a['floor']['true']} / {a['floor']['measured']}"
    )
    head = (
        "day",
        "observable",
        "identifiable",
        "floor",
        "floor sched.",
        "top unexplained (share %)",
    )
    print(
        f"{head[0]:>3} | {head[1]:>13} | {head[2]:>13} | {head[3]:>13} | {head[4]:>13} | {head[5]}"
    )
    for day, r in out["days"].items():

        def cell(d: dict | None, a: str = "learned_true", b: str = "learned_measured") -> str:
            return "-" if d is None else f"{d[a]:.1f} / {d[b]:.1f}"

        top = list(r["identifiable"]["residual_shares_pct"].items())[:3]
        tops = ", ".join(f"{n} {s:.0f}" for n, s in top)
        print(
            f"{day:>3} | {cell(r['observable']):>13} | {cell(r['identifiable']):>13} | "
            f"{cell(r['floor'], 'true', 'measured'):>13} | "
            f"{cell(r.get('floor_schedule_known'), 'true', 'measured'):>13} | {tops}"
        )
    print("Bayes floor with ONE group hidden (MAPE vs true / vs measured):")
    for day, r in out["days"].items():
        if "floor_one_hidden" in r:
            cells = [
                f"{g} {f['true']:.1f} / {f['measured']:.1f}"
                for g, f in r["floor_one_hidden"].items()
            ]
            print(f"{day:>3} | " + "; ".join(cells))


if __name__ == "__main__":
    main()
