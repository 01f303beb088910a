"""The chosen forecast of one running batch, updated row by row (the ``Monitor``'s path).

:meth:`ServedChoice.apply_row <forecaster.serve.chosen.ServedChoice.apply_row>` rebuilds
the cheap rungs' forecasts from every row so far at each update. Those forecasts change
only when what they read changes: a new assay, a plan value, the origin day or the planned
harvest (each rung says what it reads in ``served_inputs``; offline assays come about once
a day). :class:`ChoiceStream` keeps each rung's last forecast with the inputs it was made
from and recomputes it only when they change; a rung that does not say what it reads is
recomputed at every update. The rows are kept as the arrays they came in (no DataFrame per
update); a frame of the rows so far is built only for a recomputation and for the
RandomForest rung. The result equals ``apply_row`` on the same rows exactly (the blend,
its conformal interval and the trajectory's rescaling are the same code).

Example:
    >>> stream = ChoiceStream(run.choice, "B42")
    >>> stream.append(block, ["time_h", "titer_mg_L", ...])  # (n, V) canonical rows
    >>> f = stream.apply(f)  # the network's decoded last row, moved onto the choice
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.decode import rescale_to_harvest
from forecaster.models.ladder.protocol import origin_day
from forecaster.serve.chosen import LEVEL, PLANNED_HARVEST, ServedChoice

__all__ = ["ChoiceStream"]

#: how ``served_inputs`` names each kind of input a rung reads
_KINDS = ("assays", "last", "first")


class ChoiceStream:
    """The served choice of one running batch, fed its canonical rows in time order.

    Args:
        served: the run's chosen forecast with its models.
        batch_id: the batch (its frame's ``batch_id`` column).

    Attributes:
        n_rows: rows received so far.
        recomputed: ``{rung: times its forecast was computed}`` (the rest came from the
            kept forecast).
    """

    def __init__(self, served: ServedChoice, batch_id: str) -> None:
        self.served, self.batch_id = served, str(batch_id)
        self.n_rows = 0
        self.recomputed: dict[str, int] = {}
        self._blocks: list[tuple[np.ndarray, list[str]]] = []  # (n, V) rows, their columns
        self._inputs = {  # rungs that say what they read (the others: every update)
            name: ins
            for name, r in served.chosen.rungs.items()
            if (ins := getattr(r, "served_inputs", lambda: None)()) is not None
        }
        watched = [c for ins in self._inputs.values() for k in _KINDS for c in ins.get(k, ())]
        self._watched = tuple(dict.fromkeys(watched))
        self._count: dict[str, int] = {}  # finite values so far per watched column
        self._first: dict[str, float] = {}  # first finite value per watched column
        self._last: dict[str, float] = {}  # last finite value per watched column
        self._time_h = float("nan")
        self._planned = float("nan")  # the last row's planned harvest (NaN: none)
        self._kept: dict[str, tuple[tuple, np.ndarray]] = {}  # rung -> (inputs, (1, 3))

    def append(self, block: np.ndarray, names: Sequence[str]) -> None:
        """Add the next rows.

        Args:
            block: ``(n, V)`` canonical values (NaN: not read), later than every row before;
                kept as given (not copied), so the caller must not change it afterwards.
            names: the ``V`` column names, ``time_h`` among them.
        """
        names = list(names)
        if len(block) == 0:
            return
        pos = {c: j for j, c in enumerate(names)}
        self._blocks.append((block, names))
        self.n_rows += len(block)
        self._time_h = float(block[-1, pos[schema.TIME]])
        j = pos.get(PLANNED_HARVEST)
        self._planned = float(block[-1, j]) if j is not None else float("nan")
        for c in self._watched:
            if c not in pos:
                continue
            x = block[:, pos[c]]
            seen = np.flatnonzero(np.isfinite(x))
            if seen.size:
                self._count[c] = self._count.get(c, 0) + int(seen.size)
                self._first.setdefault(c, float(x[seen[0]]))
                self._last[c] = float(x[seen[-1]])
            else:
                self._count.setdefault(c, 0)

    def frame(self) -> pd.DataFrame:
        """The rows so far as one canonical frame (``batch_id`` first, then the columns in
        the order they first came; NaN where a chunk lacked a column)."""
        if len(self._blocks) > 1:  # one block from here on: the next frame costs less
            cols = list(dict.fromkeys(c for _, names in self._blocks for c in names))
            parts = []
            for block, names in self._blocks:
                pos = {c: j for j, c in enumerate(names)}
                part = np.full((len(block), len(cols)), np.nan)
                for k, c in enumerate(cols):
                    if c in pos:
                        part[:, k] = block[:, pos[c]]
                parts.append(part)
            self._blocks = [(np.concatenate(parts), cols)]
        block, cols = self._blocks[0]
        out = pd.DataFrame(block.copy(), columns=cols)
        out.insert(0, schema.BATCH_ID, self.batch_id)
        return out

    def apply(self, f: dict) -> dict:
        """The network's decoded last row (``harvest (Q,)``, ``trajectory (D, Q)``) moved
        onto the chosen forecast, as :meth:`ServedChoice.apply_row` on the rows so far."""
        s = self.served
        t = self._time_h
        h = self._planned if np.isfinite(self._planned) and self._planned > 0 else None
        h = float(s.chosen.planned_end_h) if h is None else h
        if s.finished(t, h):
            return f
        seq = s.sequence(np.asarray(f["harvest"])[None])
        p = s.widen_flat(self._blend(t, h, seq), seq)[0]
        harvest, traj = rescale_to_harvest(f["harvest"], f["trajectory"], t, p, s.pick)
        return {**f, "harvest": harvest, "trajectory": traj}

    # ---------------------------------------------------------------- helpers
    def _blend(self, t: float, h: float, seq: np.ndarray) -> np.ndarray:
        """``(1, 3)`` the choice at hour ``t``: :meth:`ChosenForecast.predict` for one
        prefix, with the cheap rungs' forecasts kept while their inputs stand."""
        chosen = self.served.chosen
        d = str(chosen.day_for(np.asarray([t]))[0])
        parts = {}
        for r in chosen.weights[d]:
            if r in chosen.rungs:
                parts[r] = self._rung(r, t, h)
            elif r == "rf":
                parts[r] = np.asarray(self.served.rf.predict([self.frame()]), dtype=float)
            else:  # the sequence model
                parts[r] = seq
        return chosen.blend_day(d, parts, LEVEL)

    def _rung(self, name: str, t: float, h: float) -> np.ndarray:
        """``(1, 3)`` a cheap rung's forecast of the rows so far (kept or recomputed)."""
        key = self._key(name, t, h)
        kept = self._kept.get(name)
        if key is not None and kept is not None and kept[0] == key:
            return kept[1]
        out = self.served.chosen.rungs[name].predict([self.frame()], np.asarray([h]))
        self.recomputed[name] = self.recomputed.get(name, 0) + 1
        if key is not None:
            self._kept[name] = (key, out)
        return out

    def _key(self, name: str, t: float, h: float) -> tuple | None:
        """What the rung's forecast depends on (None: not known, recompute every time)."""
        ins = self._inputs.get(name)
        if ins is None:
            return None

        def value(table: dict[str, float], c: str) -> float | None:
            v = table.get(c)
            return None if v is None or not np.isfinite(v) else v

        return (
            int(origin_day(np.asarray([t]))[0]),
            h,
            tuple(self._count.get(c, -1) for c in ins.get("assays", ())),
            tuple(value(self._last, c) for c in ins.get("last", ())),
            tuple(value(self._first, c) for c in ins.get("first", ())),
        )
