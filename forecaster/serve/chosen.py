"""Serve the forecast training chose (``forecast/chosen.json``) instead of the network's own.

Training scores the ladder of harvest forecasters (naive rungs, ridge, RandomForest, the
sequence model and blends) on the same batches and chooses per origin day
(:mod:`forecaster.models.ladder.chosen`); ``metrics.json``'s ``titer.chosen`` is that
choice's accuracy. ``predict``, the dashboards, the app and ``Monitor`` give the same forecast:
the network's per-row outputs are computed as before, and at each batch's last row the harvest
forecast is replaced by the choice's, with the choice's conformal 80 % interval, and the
trajectory's days ahead moved onto it (:func:`forecaster.models.decode.rescale_to_harvest`),
so the harvest forecast, the trajectory's last day and the dashboard stay one number.

A batch forecasts to its own planned harvest (its ``planned_harvest_h`` column, a
planned-recipe value known in advance, when the data hold one; else the training batches'
median end). A finished batch (its rows reach that planned harvest) keeps the network's own
harvest forecast, which is fitted to the harvest assay of its last row. Run folders without
``chosen.json`` (older runs, or a ladder skipped for too few batches) serve the network's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import RunFolderError
from forecaster.models.decode import QuantilePick, rescale_to_harvest
from forecaster.models.ladder.chosen import ChosenForecast

__all__ = ["ServedChoice", "load_choice"]

#: a batch whose last row is this close (h) to the planned end counts as finished
FINISHED_TOL_H = 1.0
#: the planned-recipe column of a batch's planned harvest time (h), when the data hold it
PLANNED_HARVEST = "planned_harvest_h"
#: nominal coverage of the served interval
LEVEL = 0.8


class ServedChoice:
    """The chosen forecast of a run folder with the models it needs.

    Attributes:
        chosen: the choice per origin day.
        model: the sequence forecaster (its quantiles, its forecasts are passed in).
        rf: the RandomForest rung when some day's choice uses it, else None.
    """

    def __init__(self, chosen: ChosenForecast, model, rf=None) -> None:
        self.chosen = chosen
        self.model = model
        self.rf = rf
        self.pick = QuantilePick.of(model.net.quantiles)

    def planned_harvest(self, rows: pd.DataFrame) -> float:
        """The batch's planned harvest time (h): its ``planned_harvest_h`` column when it has
        one (a planned-recipe column, known in advance), else the training batches' median
        end."""
        if PLANNED_HARVEST in rows.columns and len(rows):
            v = float(pd.to_numeric(rows[PLANNED_HARVEST], errors="coerce").iloc[-1])
            if np.isfinite(v) and v > 0:
                return v
        return float(self.chosen.planned_end_h)

    def finished(self, time_h: float, harvest_h: float | None = None) -> bool:
        """Whether a batch whose last row is at ``time_h`` has reached its planned harvest
        (``harvest_h``; None: the training batches' median end)."""
        end = self.chosen.planned_end_h if harvest_h is None else harvest_h
        return bool(np.isfinite(end) and float(time_h) >= end - FINISHED_TOL_H)

    def label(self, time_h: float, harvest_h: float | None = None) -> str:
        """Which forecast a batch whose last row is at ``time_h`` is served, in words."""
        if self.finished(time_h, harvest_h):
            return "sequence (finished batch)"
        d = str(self.chosen.day_for(np.asarray([float(time_h)]))[0])
        return (
            f"{self.chosen.rung_by_day.get(d, '+'.join(self.chosen.weights[d]))} (day-{d} choice)"
        )

    def harvest(self, rows: Sequence[pd.DataFrame], seq_harvest: np.ndarray) -> np.ndarray:
        """``(n, 3)`` chosen harvest forecast at each batch's last row.

        Args:
            rows: each batch's rows so far (sorted by time).
            seq_harvest: ``(n, Q)`` the network's harvest quantiles at those rows.
        """
        seq = self.sequence(seq_harvest)
        given = {"sequence": seq}
        if "rf" in self.chosen.needs():
            given["rf"] = self.rf.predict(list(rows))
        harvest_h = [self.planned_harvest(r) for r in rows]
        p = self.chosen.predict(list(rows), given=given, level=LEVEL, harvest_h=harvest_h)
        return self.widen_flat(p, seq)

    def sequence(self, seq_harvest: np.ndarray) -> np.ndarray:
        """``(n, 3)`` the network's p10 / p50 / p90 (sorted) of its ``(n, Q)`` quantiles."""
        return np.sort(self.pick.take(np.asarray(seq_harvest, dtype=float)), axis=1)

    @staticmethod
    def widen_flat(p: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """``p: (n, 3)`` with each zero-width interval (no conformal interval at that day and
        rungs without a spread) replaced by the network's band ``seq: (n, 3)``, relative to
        its median, around the chosen median (never a zero-width interval); in place."""
        flat = (p[:, 2] - p[:, 0] <= 1e-9 * np.abs(p[:, 1])) & (seq[:, 1] > 0)
        if flat.any():
            rel = seq[flat] / seq[flat, 1:2]
            p[flat, 0], p[flat, 2] = p[flat, 1] * rel[:, 0], p[flat, 1] * rel[:, 2]
        return p

    def apply(self, rows: Sequence[pd.DataFrame], steps: list[dict]) -> list[dict]:
        """The per-step outputs of each batch with the last row's harvest forecast and
        trajectory moved onto the chosen forecast (finished batches unchanged)."""
        todo = [
            i
            for i, o in enumerate(steps)
            if not self.finished(o["time_h"][-1], self.planned_harvest(rows[i]))
        ]
        if not todo:
            return steps
        target = self.harvest(
            [rows[i] for i in todo], np.stack([steps[i]["harvest"][-1] for i in todo])
        )
        out = list(steps)
        for i, p in zip(todo, target):
            o = steps[i]
            h, tr = rescale_to_harvest(
                o["harvest"][-1], o["trajectory"][-1], o["time_h"][-1], p, self.pick
            )
            harvest, traj = np.array(o["harvest"], copy=True), np.array(o["trajectory"], copy=True)
            harvest[-1], traj[-1] = h, tr
            out[i] = {**o, "harvest": harvest, "trajectory": traj}
        return out

    def apply_row(self, rows: pd.DataFrame, f: dict) -> dict:
        """One decoded row (``harvest (Q,)``, ``trajectory (D, Q)``) of a batch whose rows so
        far are ``rows`` moved onto the chosen forecast (the ``Monitor``'s path)."""
        t = float(rows[schema.TIME].iloc[-1])
        if self.finished(t, self.planned_harvest(rows)):
            return f
        p = self.harvest([rows], np.asarray(f["harvest"])[None])[0]
        h, tr = rescale_to_harvest(f["harvest"], f["trajectory"], t, p, self.pick)
        return {**f, "harvest": h, "trajectory": tr}


def load_choice(run_dir: Path, model) -> ServedChoice | None:
    """``forecast/chosen.json`` of a run folder with the RandomForest it needs; None when
    the folder has none.

    Raises:
        RunFolderError: unreadable file, or a choice that needs a model the folder lacks.
    """
    path = Path(run_dir) / "forecast" / "chosen.json"
    if not path.exists():
        return None
    try:
        chosen = ChosenForecast.from_state_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"the chosen forecast is unreadable ({err})", file=str(path)) from None
    rf = None
    if "rf" in chosen.needs():
        from forecaster.models.baseline import RFBaseline
        from forecaster.models.ladder.adapters import RFRung

        try:
            rf = RFRung(RFBaseline.load(Path(run_dir) / "rf")).fit([])
        except (FileNotFoundError, ValueError, KeyError, RuntimeError, TypeError) as err:
            raise RunFolderError(
                f"the chosen forecast uses the RandomForest, which cannot be loaded ({err})",
                file=str(Path(run_dir) / "rf"),
            ) from None
    unknown = chosen.needs() - {"rf", "sequence"}
    if unknown:
        raise RunFolderError(
            f"the chosen forecast names unknown models {sorted(unknown)}", file=str(path)
        )
    return ServedChoice(chosen, model, rf)
