"""What really drives each target, known only because the data come from the simulator.

- Feed rate: the operator feed policy reads exactly ``policy.inputs``; those are the true
  drivers. They are ranked by how much the policy's output depends on each: the policy's
  pure ``decide`` is evaluated on the inputs it actually read (``policy_<variable>``
  columns at its decision rows) with one input shuffled across decisions at a time; the
  score is the mean squared change of the decision (mL/h)^2. Every other variable scores 0.
  The ranking answers the same question as the attributions it is compared with: with the
  time-matched attribution baseline ("why does this decision differ from a typical batch's
  at the same age") the input is shuffled among decisions taken at the same hour
  (``same_age``); with a single all-time baseline, across all decisions. The stage computes
  it on the decisions it explains (the explained batches at the explained origins).
- Harvest titer: one-at-a-time sensitivity analysis through the simulator. Each internal
  state (VCD, dead cells -> viability, glucose, glutamine, lactate, ammonia, titer,
  volume) is multiplied by ``factor`` at each origin day in every batch, all random draws
  unchanged (faults off), and the noise-free harvest titer is compared with the unperturbed
  run. The score is the elasticity ``mean_b |dY_b / Y_b| / |factor - 1|``, averaged over the
  origin days. Only these states can be perturbed, so the titer truth covers only their
  variables; controls and setpoints are not ranked (their effect is not measured, not 0).

Both return ``{"importance": Series (shares over the covered variables), "ranked": [the
variables the truth orders], "true_set": [...], "definition": str, "raw": Series}``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster import schema

#: Simulator state (``forecaster.sim.PERTURB_STATES``) -> canonical variable it is read as.
STATE_VARIABLES: dict[str, str] = {
    "vcd": "vcd_1e6_cells_mL",
    "dead": "viability_pct",
    "glucose": "glucose_g_L",
    "glutamine": "glutamine_mM",
    "lactate": "lactate_g_L",
    "ammonia": "ammonia_mM",
    "titer": "titer_mg_L",
    "volume": "volume_L",
}


def _shares(s: pd.Series) -> pd.Series:
    tot = float(s.clip(lower=0).sum())
    return (s.clip(lower=0) / tot if tot > 0 else s * 0.0).rename("truth")


def decision_inputs(
    table: pd.DataFrame, inputs: Sequence[str], interval_h: float
) -> dict[str, np.ndarray]:
    """The values the policy read at each decision: ``{variable: (n_decisions,)}``, plus
    the decision times under ``time_h``.

    Decisions are the rows on the assay grid (``time_h`` a multiple of ``interval_h``) where
    every ``policy_<variable>`` column is known.
    """
    cols = [f"policy_{v}" for v in inputs]
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise KeyError(
            f"batch table lacks the feed-policy columns {missing}; simulate the data with forecaster.sim"
        )
    t = table[schema.TIME].to_numpy(dtype=float)
    on_grid = np.isclose(np.mod(t + 1e-6, interval_h), 0.0, atol=1e-3)
    rows = table.loc[on_grid, [*cols, schema.TIME]].dropna()
    out = {v: rows[f"policy_{v}"].to_numpy(dtype=float) for v in inputs}
    out[schema.TIME] = rows[schema.TIME].to_numpy(dtype=float)
    return out


def feed_policy_truth(
    sim_cfg,
    table: pd.DataFrame,
    variables: Sequence[str],
    n_repeats: int = 5,
    seed: int = 0,
    same_age: bool = False,
) -> dict:
    """Ground truth of the feed head: the policy's inputs, ranked by its own sensitivity.

    Args:
        sim_cfg: the ``SimConfig`` the table was simulated with (policy name and parameters).
        table: the batch table with ``policy_*`` columns.
        variables: the model's input variables (the ranking covers exactly these).
        n_repeats: shuffles per input.
        seed: seed of the shuffles.
        same_age: shuffle each input only among decisions taken at the same hour.
    """
    from forecaster.sim import PolicyParams, get_policy

    policy = get_policy(sim_cfg.feed_policy)
    params = PolicyParams(sim_cfg.feed, sim_cfg.assay_interval_h)
    x = decision_inputs(table, policy.inputs, sim_cfg.assay_interval_h)
    base = policy.decide(x, params)
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(base))]
    if same_age:
        hour = np.round(x.pop(schema.TIME)).astype(int)
        groups = [np.flatnonzero(hour == h) for h in np.unique(hour)]
    else:
        x.pop(schema.TIME)

    def permutation() -> np.ndarray:
        perm = np.arange(len(base))
        for g in groups:
            perm[g] = g[rng.permutation(len(g))]
        return perm

    raw = pd.Series(0.0, index=list(variables), name="truth")
    for v in policy.inputs:
        d = []
        for _ in range(n_repeats):
            xp = dict(x)
            xp[v] = x[v][permutation()]
            d.append(np.mean((policy.decide(xp, params) - base) ** 2))
        if v in raw.index:
            raw[v] = float(np.mean(d))
    true_set = [v for v in policy.inputs if v in raw.index]
    unseen = [v for v in policy.inputs if v not in raw.index]
    note = f" ({', '.join(unseen)} read by the policy but not a model input)" if unseen else ""
    definition = (
        f"feed policy `{policy.name}` reads {', '.join(policy.inputs)}{note}; ranked by the mean "
        f"squared change of its decision when one input is shuffled over {len(base)} decisions"
        f"{' taken at the same hour of the run' if same_age else ''}; every other variable scores 0"
    )
    return {
        "importance": _shares(raw),
        "ranked": true_set,
        "true_set": true_set,
        "definition": definition,
        "raw": raw,
    }


def titer_sensitivity_truth(
    sim_cfg,
    variables: Sequence[str],
    origin_days: Sequence[float],
    factor: float = 1.2,
    n_batches: int = 16,
    seed: int = 0,
    k: int = 3,
) -> dict:
    """Ground truth of the harvest-titer head: OAT state perturbations through the simulator.

    Args:
        sim_cfg: simulator config of the run (faults are switched off here).
        variables: the model's input variables; states whose variable is not one are skipped.
        origin_days: days at which a state is perturbed (the explained origins).
        factor: multiplier of the perturbed state.
        n_batches: batches per simulation.
        seed: simulator seed.
        k: size of the true set (the top ``k`` states).
    """
    from forecaster.sim import Perturbation
    from forecaster.sim.sensitivity import harvest_titer_under

    if factor == 1.0:
        raise ValueError("truth_factor must differ from 1")
    cfg = copy.deepcopy(sim_cfg)
    cfg.faults.rate = 0.0
    states = {s: v for s, v in STATE_VARIABLES.items() if v in set(variables)}
    perturbs: list[Perturbation | None] = [None] + [
        Perturbation(state, 24.0 * float(d), factor) for state in states for d in origin_days
    ]
    # every perturbation in one vectorised run (the same batches side by side)
    y = harvest_titer_under(cfg, perturbs, n_batches=n_batches, seed=seed)
    y0, y = y[0], y[1:].reshape(len(states), len(origin_days), y.shape[1])
    el = np.mean(np.abs(y - y0) / np.maximum(np.abs(y0), 1e-9), axis=2) / abs(factor - 1.0)
    raw = pd.Series(el.mean(axis=1), index=list(states.values()), name="truth", dtype=float)
    imp = _shares(raw)
    true_set = list(imp.sort_values(ascending=False, kind="stable").index[:k])
    days = ", ".join(f"{d:g}" for d in origin_days)
    definition = (
        f"harvest-titer elasticity to a x{factor:g} change of each simulator state at day(s) {days} "
        f"({n_batches} fault-free batches, all random draws fixed); covers "
        f"{', '.join(raw.index)}; true set = top {k}: {', '.join(true_set)}"
    )
    return {
        "importance": imp,
        "ranked": list(imp.index),
        "true_set": true_set,
        "definition": definition,
        "raw": raw,
    }
