"""``simulate``: draw batches and faults, run the time loop, measure, assemble the tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.sim.config import SimConfig
from forecaster.sim.engine import Trajectory, run
from forecaster.sim.faults import draw_faults, fault_table, row_labels
from forecaster.sim.feed_policy import get_policy
from forecaster.sim.measurement import readings
from forecaster.sim.noise import Noise
from forecaster.sim.params import Streams, draw_batch_params
from forecaster.sim.plan import plan_rows
from forecaster.sim.result import Perturbation, SimResult
from forecaster.sim.schedule import FeedSchedule
from forecaster.sim.validate import check_config

#: Noise-free states kept by ``keep_truth`` (column -> recorded series).
TRUTH_COLUMNS = {
    "glucose_g_L": "glc", "volume_L": "vol", "vcd_1e6_cells_mL": "xv", "titer_mg_L": "titer",
    "feed_rate_mL_h": "feed", "temperature_setpoint_C": "temp_sp",
}  # fmt: skip


def simulate(
    cfg: SimConfig,
    n_batches: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    perturb: Perturbation | None = None,
    schedule: FeedSchedule | None = None,
    keep_truth: bool = False,
) -> SimResult:
    """Simulate ``n_batches`` fed-batch runs, vectorised over batches.

    Args:
        cfg: simulator configuration.
        n_batches: overrides ``cfg.n_batches``.
        seed: overrides ``cfg.seed``; same seed and config -> identical result.
        progress: show a tqdm bar over the time loop.
        perturb: multiply one internal state at one time in every batch (every random draw
            unchanged), for one-at-a-time sensitivity analysis.
        schedule: external feed rates per decision and shift times (closed-loop studies);
            every random draw unchanged. The batch table's ``temperature_shift_h`` is the
            time actually used.
        keep_truth: also return the noise-free states on every row (``SimResult.truth``).

    Returns:
        SimResult with ``table`` (rows: batches x sample times), ``faults``, ``batches``.
        With ``cfg.record_plan`` the table holds the planned recipe (``schema.PLAN``,
        constant per batch, see ``plan.py``); without it those columns are absent and the
        rest is the same.

    Raises:
        SimConfigError: a configuration value is invalid.
    """
    changes = {k: v for k, v in (("n_batches", n_batches), ("seed", seed)) if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    check_config(cfg)
    n = cfg.n_batches
    streams = Streams.from_seed(cfg.seed)
    p = draw_batch_params(cfg, n, streams.params)
    plan = draw_faults(cfg.faults, p["run_length_h"], cfg.sample_interval_h, streams.faults)
    policy = get_policy(cfg.feed_policy)
    n_rows = int(round(p["run_length_h"].max() / cfg.sample_interval_h)) + 1
    noise = Noise.draw(cfg, n_rows, n, streams)
    if schedule is not None:
        schedule.check(n)
        p = {**p, "temperature_shift_h": schedule.shift_times(p["temperature_shift_h"])}
    traj = run(cfg, p, plan, noise, policy, perturb=perturb, progress=progress, schedule=schedule)

    width = max(4, len(str(n - 1)))
    ids = np.array([f"B{i:0{width}d}" for i in range(n)], dtype=object)
    time_h = np.arange(n_rows) * cfg.sample_interval_h
    cols = readings(traj, cfg, p, plan, noise)
    if cfg.record_plan:
        cols.update(plan_rows(p, n_rows))
    label, ftype = row_labels(plan, time_h)
    n_rows_b = np.round(p["run_length_h"] / cfg.sample_interval_h).astype(int) + 1
    valid = np.arange(n_rows)[None, :] < n_rows_b[:, None]  # (n, R)

    def long(x: np.ndarray) -> np.ndarray:  # (R, n) -> batch-major rows of valid entries
        return x.T[valid]

    data = {
        schema.BATCH_ID: np.repeat(ids, n_rows_b),
        schema.TIME: long(np.broadcast_to(time_h[:, None], (n_rows, n))),
    }
    data.update({name: long(cols[name]) for name in schema.VARIABLE_NAMES if name in cols})
    data[schema.FAULT_LABEL] = long(label)
    data[schema.FAULT_TYPE] = long(ftype)
    data.update({f"policy_{name}": long(v) for name, v in traj.policy.items()})
    table = pd.DataFrame(data)
    truth = None
    if keep_truth:
        truth = pd.DataFrame({
            schema.BATCH_ID: data[schema.BATCH_ID], schema.TIME: data[schema.TIME],
            **{col: long(traj.rec[name]) for col, name in TRUTH_COLUMNS.items()},
        })  # fmt: skip
    batches = _batches(ids, p, plan, traj, n_rows_b, cfg)
    return SimResult(table, fault_table(plan, ids), batches, truth)


def _batches(
    ids: np.ndarray,
    p: dict[str, np.ndarray],
    plan,
    traj: Trajectory,
    n_rows_b: np.ndarray,
    cfg: SimConfig,
) -> pd.DataFrame:
    """One row per batch: parameters, policy, fault, balances, true harvest values."""
    r, last = traj.rec, n_rows_b - 1
    cols = np.arange(ids.size)
    harvest = {name: r[name][last, cols] for name in ("titer", "xv", "xd", "vol")}
    out = {schema.BATCH_ID: ids, "policy": cfg.feed_policy, "fault_type": plan.type_names()}
    out.update({name: v for name, v in p.items()})
    out.update({f"{k}": v for k, v in traj.totals.items()})
    out["harvest_titer_true_mg_L"] = harvest["titer"]
    out["harvest_viability_true_pct"] = 100 * harvest["xv"] / (harvest["xv"] + harvest["xd"])
    out["harvest_volume_true_L"] = harvest["vol"]
    mask = np.arange(r["xv"].shape[0])[:, None] <= last[None, :]
    out["peak_vcd_true_1e6_cells_mL"] = np.where(mask, r["xv"], -np.inf).max(axis=0)
    return pd.DataFrame(out)
