"""Is the sequence model using the assay history well? A ridge regression as a yardstick.

Usage: ``python benchmarks/titer_ridge_check.py --run checkpoints/default``. Rebuilds the
run's data and splits from its ``config.yaml`` (simulated runs only), fits per forecast-origin
day d (3, 5, 7, 10) a ridge regression (``RidgeCV``) of the log harvest titer on the daily
log-titer and log-VCD assays of days 1..d plus the day-d value of every other assay, on the
run's fault-free training batches, and scores it and the run's sequence model on the
fault-free test batches (MAPE against the measured harvest titer, as in ``metrics.json``).

Prints a table and writes ``benchmarks/results/titer_ridge_check.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeCV

from forecaster import schema
from forecaster.data import targets
from forecaster.models.sequence import SequenceForecaster
from forecaster.pipeline.config import load_config_file
from forecaster.pipeline.data_stage import load_data

DAYS = (3, 5, 7, 10)
HISTORY = ("titer_mg_L", "vcd_1e6_cells_mL")
OUT = Path(__file__).resolve().parent / "results" / "titer_ridge_check.json"


def daily(rows, column: str, n_days: int) -> np.ndarray:
    """(n_days,) assay of ``column`` on days 1..n_days (NaN where not measured)."""
    g = rows[[schema.TIME, column]].rename(columns={column: schema.TITER})
    return targets.titer_by_day(g, n_days)


def design(batches: list, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-assay features up to ``day`` and the measured harvest titer of each batch."""
    rows_x, ys = [], []
    for b in batches:
        parts = [np.log(np.maximum(daily(b, c, day), 1e-3)) for c in HISTORY]
        parts += [np.log(np.maximum(daily(b, c, day)[-1:], 1e-3)) for c in schema.OFFLINE]
        rows_x.append(np.concatenate(parts))
        ys.append(targets.harvest_titer(b))
    return np.asarray(rows_x), np.asarray(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", type=Path, default=Path("checkpoints/default"))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    cfg, _ = load_config_file(args.run / "config.yaml")
    cfg.trainer.enable_progress_bar = False
    data = load_data(cfg, Path("/tmp"))
    groups = {str(b): g.sort_values(schema.TIME) for b, g in data.table.groupby(schema.BATCH_ID)}
    train = [groups[b] for b in data.splits["train"] if b not in data.faulty]
    test = [groups[b] for b in data.splits["test"] if b not in data.faulty]
    model = SequenceForecaster.load(args.run / "forecast" / "model.pt")
    outs = model.step_outputs(test)
    mid = model.net.quantiles.index(0.5)
    res: dict = {"run": str(args.run), "n_train": len(train), "n_test": len(test), "days": {}}
    print(
        f"{'day':>4} {'ridge':>8} {'sequence':>9}   (harvest-titer MAPE, fault-free test batches)"
    )
    for day in DAYS:
        x, y = design(train, day)
        xt, yt = design(test, day)
        ok, okt = np.isfinite(x).all(1) & np.isfinite(y), np.isfinite(xt).all(1) & np.isfinite(yt)
        ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(x[ok], np.log(y[ok]))
        p_ridge = np.exp(ridge.predict(xt[okt]))
        p_seq = np.array(
            [o["harvest"][np.flatnonzero(o["time_h"] <= 24.0 * day)[-1]][mid] for o in outs]
        )[okt]
        m_ridge = float(np.mean(np.abs(p_ridge / yt[okt] - 1)))
        m_seq = float(np.mean(np.abs(p_seq / yt[okt] - 1)))
        res["days"][str(day)] = {"ridge_mape": m_ridge, "sequence_mape": m_seq, "n": int(okt.sum())}
        print(f"{day:>4} {m_ridge:>8.1%} {m_seq:>9.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
