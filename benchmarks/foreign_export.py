"""Write process-improve's batch simulator as a plant historian export would: one long CSV.

A second, independent data source for tests and benchmarks. Its batches are shaped unlike
ours: ten days sampled twice a day (20 rows), five online tags, eleven upstream initial
conditions per batch, a pH / temperature set-point schedule, no feed column, and the titer
measured only at harvest (the last row of each batch). The file carries process-improve's
own names and units (``process_improve/simulation/batch.py``):

=============================  =======================================  ==============
column                         process-improve name                     unit
=============================  =======================================  ==============
Batch                          batch id                                 -
Day                            sample time (end of each 12 h interval)  d
pH, Temperature (degC)         tags ``pH``, ``temperature``             pH, degC
DO (%)                         ``dissolved_oxygen``                     % air sat.
Off-gas CO2 (%)                ``offgas_co2``                           %
Volume (L)                     ``volume``                               L
pH set point, Temperature ...  requested schedule, held per interval   pH, degC
Seed viability (%) ...         the 11 upstream ``Z`` variables          (in the name)
Titer (g/L)                    final product concentration              g/L
=============================  =======================================  ==============

process-improve has no fault injection: its simulator varies initial conditions,
disturbance channels (feed scale, control errors, an unmeasured disturbance) and the
schedule (``policy="historical"``), but never labels a batch faulty. Every batch written
here is fault-free.

Usage::

    python benchmarks/foreign_export.py --n 40 --seed 0 --out data/foreign/process_improve.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

TAG_COLUMNS = {
    "pH": "pH",
    "temperature": "Temperature (degC)",
    "dissolved_oxygen": "DO (%)",
    "offgas_co2": "Off-gas CO2 (%)",
    "volume": "Volume (L)",
}
SETPOINT_COLUMNS = {"pH": "pH set point", "temperature": "Temperature set point (degC)"}
INITIAL_COLUMNS = {
    "seed_viability_pct": "Seed viability (%)",
    "seed_age_h": "Seed age (h)",
    "inoculum_density_e6_per_ml": "Inoculum density (1e6 cells/mL)",
    "media_glucose_g_L": "Media glucose (g/L)",
    "media_glutamine_mM": "Media glutamine (mM)",
    "media_osmolality_mOsm_kg": "Media osmolality (mOsm/kg)",
    "media_lot_age_d": "Media lot age (d)",
    "trace_metal_index": "Trace metal index",
    "impurity_index": "Impurity index",
    "water_conductivity_uS_cm": "Water conductivity (uS/cm)",
    "supplier_lot_score": "Supplier lot score",
}
TITER_COLUMN = "Titer (g/L)"
FAULTS_AVAILABLE = False  # process-improve's simulator has no fault injection


def simulate(
    n: int, seed: int = 0, policy: str = "historical", mv_variation: float = 0.5
) -> pd.DataFrame:
    """Simulate ``n`` process-improve batches as one long historian table.

    Args:
        n: number of batches.
        seed: ``random_state`` of ``simulate_campaign`` (reproducible end to end).
        policy: ``"replay"`` (one golden schedule) or ``"historical"`` (per-batch
            deliberate set-point moves of size ``mv_variation``).
        mv_variation: temperature move per knot [degC] (pH: a tenth of it).

    Returns:
        ``20 * n`` rows (one per 12 h sample), the columns in the module docstring;
        ``Titer (g/L)`` set on each batch's last row only (NaN elsewhere).

    Raises:
        ImportError: process-improve is not installed (``pip install -e .[dev]``).
    """
    from process_improve.simulation import BioreactorSimulator

    sim = BioreactorSimulator()
    variation = mv_variation if policy == "historical" else 0.0
    campaign = sim.simulate_campaign(
        int(n), policy=policy, mv_variation=variation, random_state=seed
    )
    frames = []
    for batch_id, tags in campaign.batches.items():
        frame = pd.DataFrame({"Batch": f"PI-{int(batch_id):03d}", "Day": tags.index.to_numpy()})
        for name, column in TAG_COLUMNS.items():
            frame[column] = tags[name].to_numpy()
        # row i of the schedule is held over the interval that ends at tag row i
        schedule = campaign.trajectories[batch_id]
        for name, column in SETPOINT_COLUMNS.items():
            frame[column] = schedule[name].to_numpy()[: len(frame)]
        initial = campaign.initial_conditions.loc[batch_id]
        for name, column in INITIAL_COLUMNS.items():
            frame[column] = float(initial[name])
        titer = np.full(len(frame), np.nan)
        titer[-1] = float(campaign.quality.loc[batch_id, "titer"])
        frame[TITER_COLUMN] = titer
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write(path: str | Path, n: int, seed: int = 0, policy: str = "historical") -> Path:
    """Simulate and write the export CSV; returns its path (parents are created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    simulate(n, seed=seed, policy=policy).to_csv(out, index=False, float_format="%.6g")
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--n``, ``--seed``, ``--policy``, ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", choices=("replay", "historical"), default="historical")
    parser.add_argument("--out", default="data/foreign/process_improve.csv")
    args = parser.parse_args(argv)
    out = write(args.out, args.n, seed=args.seed, policy=args.policy)
    print(f"wrote {args.n} fault-free process-improve batches to {out}")


if __name__ == "__main__":
    main()
