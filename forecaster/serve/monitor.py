"""Monitor running batches: feed new rows as they arrive, get updated forecasts and new alarms.

Each update costs the same whatever the batch's age: the features are built incrementally
(:class:`~forecaster.data.streaming.StreamingFeatures`), the recurrent network continues
from its saved state (``ForecastNet.step``), the anomaly detector keeps only the short
tail its windows and rules look back to (``AnomalyDetector.stream``) and the served choice
keeps its cheap rungs' forecasts until an assay, the plan or the origin day changes
(:class:`~forecaster.serve.chosen_stream.ChoiceStream`). Forecasts equal a one-shot
``predict`` on the same rows (up to float rounding)::

    mon = Monitor.from_run("checkpoints/NAME")
    for chunk in incoming_rows:                      # e.g. one row per hour
        up = mon.update("B42", chunk)
        print(up.harvest_titer_mg_L, [a.reason for a in up.new_alarms])

Rows may use canonical names or the user's names and units from the run's column map.
Bad rows raise a :class:`~forecaster.data.errors.DataError` naming batch, column and rows,
and leave the batch's state untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
from forecaster.data import local_time, units
from forecaster.data.errors import DataError, MissingColumnError, NonNumericError, TimeOrderError
from forecaster.data.streaming import StreamingFeatures
from forecaster.data.validate import to_float
from forecaster.models.decode import QuantilePick, decode
from forecaster.models.inputs import check_rows, physical_bounds
from forecaster.serve.chosen_stream import ChoiceStream
from forecaster.serve.display import OutputNames
from forecaster.serve.run_folder import LoadedRun, load_run


@dataclass
class MonitorUpdate:
    """Forecasts after an update, and the alarms it raised.

    Attributes:
        batch_id: the batch.
        time_h: time of the last row received (forecast origin), h.
        n_rows: rows received so far.
        feed_next_mL_h: recommended feed rate for the next step, mL/h.
        harvest_titer_mg_L, harvest_titer_p10_mg_L, harvest_titer_p90_mg_L: harvest titer
            forecast (median) and its 80 % interval, mg/L.
        trajectory: (n, 3) titer forecast for the days still ahead: p10, median, p90 (mg/L).
        trajectory_days: (n,) those days (1-based culture days).
        new_alarms: alarms raised by this update (``AlarmEvent``).
    """

    batch_id: str
    time_h: float
    n_rows: int
    feed_next_mL_h: float
    harvest_titer_mg_L: float
    harvest_titer_p10_mg_L: float
    harvest_titer_p90_mg_L: float
    trajectory: np.ndarray
    trajectory_days: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    new_alarms: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("batch_id", "time_h", "n_rows", "feed_next_mL_h",
             "harvest_titer_mg_L", "harvest_titer_p10_mg_L", "harvest_titer_p90_mg_L")}  # fmt: skip
        d["trajectory"] = self.trajectory.tolist()
        d["trajectory_days"] = [int(x) for x in self.trajectory_days]
        d["new_alarms"] = [a.to_dict() for a in self.new_alarms]
        return d


@dataclass
class _BatchState:
    features: StreamingFeatures
    rnn: object = None
    alarms: object = None
    t0_stamp: pd.Timestamp | None = None  # first timestamp (time_unit: timestamp)
    last: MonitorUpdate | None = None
    choice: ChoiceStream | None = None  # the served choice (keeps the rows it reads)
    vocabulary: Vocabulary | None = None  # the batch's reason words (fixed once started)


class Monitor:
    """Incremental forecasts and alarms for any number of running batches.

    Args:
        run: a loaded run folder (:func:`forecaster.predict.load_run`).
        alarms: run the anomaly detector (if the run has one).
    """

    def __init__(self, run: LoadedRun, alarms: bool = True) -> None:
        self.run = run
        self.model = run.model
        self.detector = run.detector if alarms else None
        self._batches: dict[str, _BatchState] = {}
        self._q = QuantilePick.of(self.model.net.quantiles)
        self._dense, self._offline = self.model.prep.dense, self.model.prep.offline
        self._cmap = run.column_map
        self._renames = self._cmap.renames()
        self._units = dict(self._cmap.units)
        if not units.is_timestamp(self._cmap.time_unit):
            self._units[schema.TIME] = self._cmap.time_unit
        self._stamps = units.is_timestamp(self._cmap.time_unit)
        self._bounds_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._layouts: list[tuple[pd.Index, dict[str, str], list[int] | None]] = []

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, alarms: bool = True) -> Monitor:
        """Verify and load a run folder, then monitor with it."""
        return cls(load_run(run_dir), alarms=alarms)

    @property
    def batches(self) -> list[str]:
        """Batches seen so far."""
        return list(self._batches)

    def alarms(self, batch_id: str) -> list:
        """Every alarm of a batch so far (open ones keep their end time current)."""
        st = self._batches.get(str(batch_id))
        return list(st.alarms.events) if st is not None and st.alarms is not None else []

    def latest(self, batch_id: str) -> MonitorUpdate | None:
        """The last update of a batch (None before the first)."""
        st = self._batches.get(str(batch_id))
        return None if st is None else st.last

    def close(self, batch_id: str) -> None:
        """Forget a batch (harvested)."""
        self._batches.pop(str(batch_id), None)

    @torch.no_grad()
    def update(self, batch_id: str, rows: pd.DataFrame) -> MonitorUpdate:
        """Consume the next rows of a batch.

        Args:
            batch_id: the batch (a new id starts a new batch).
            rows: one or more new rows, later than every row given before; canonical
                columns or the run's column-map names and units. A ``batch_id`` column, if
                present, is ignored.

        Returns:
            The forecasts at the last new row and the alarms raised by these rows.

        Raises:
            DataError: missing column, non-numeric cell, time not increasing, value outside
                the physical range; the batch's state is left unchanged.
        """
        bid = str(batch_id)
        st = self._batches.get(bid)
        if st is None:
            st = _BatchState(StreamingFeatures(self.model.prep))
        if len(rows) == 0:
            if st.last is None:
                raise TimeOrderError("no rows given for a new batch", batch=bid)
            return MonitorUpdate(**{**st.last.__dict__, "new_alarms": []})
        block, names = self._canonical(rows, st, bid)
        col = {c: j for j, c in enumerate(names)}
        t = block[:, 0]
        dense = block[:, [col[c] for c in self._dense]]
        off = block[:, [col[c] for c in self._offline]]
        # the detector goes first: it is the step that can still refuse the rows
        new_alarms = []
        if self.detector is not None:
            if st.alarms is None:
                st.alarms = self.detector.stream(bid)
            if st.vocabulary is None:  # its start time is known from the first rows on
                st.vocabulary = self._vocabulary(bid, st)
            with use_vocabulary(st.vocabulary):  # reasons in the user's words
                new_alarms = st.alarms.update(dict(zip(names, block.T.copy())))
        x = st.features.update_arrays(t, dense, off)
        out, st.rnn = self.model.net.step(torch.from_numpy(x)[None], st.rnn)
        # the forecast at the last new row, decoded as every other path decodes it
        f = decode({k: v[0, -1].numpy() for k, v in out.items()}, self.model.scales,
                   self.model.horizon_days, self.model.harvest_day)  # fmt: skip
        if self.run.choice is not None:  # the harvest forecast training chose
            if st.choice is None:
                st.choice = ChoiceStream(self.run.choice, bid)
            st.choice.append(block, names)
            f = st.choice.apply(f)
        days = self.model.remaining_days(float(t[-1]))
        h, tr = self._q.take(f["harvest"]), self._q.take(f["trajectory"][days - 1])
        st.last = MonitorUpdate(
            batch_id=bid,
            time_h=float(t[-1]),
            n_rows=st.features.n_rows,
            feed_next_mL_h=float(f["feed"]),
            harvest_titer_mg_L=float(h[1]),
            harvest_titer_p10_mg_L=float(h[0]),
            harvest_titer_p90_mg_L=float(h[2]),
            trajectory=tr.astype(float),
            trajectory_days=days,
            new_alarms=list(new_alarms),
        )
        self._batches[bid] = st
        return st.last

    def _vocabulary(self, bid: str, st: _BatchState) -> Vocabulary:
        t0, zone = st.t0_stamp, self._cmap.time_zone
        starts = {} if t0 is None else {bid: t0.tz_convert(zone) if zone else t0}
        return OutputNames(self.run.process, self._cmap, starts).vocabulary(bid)

    # ------------------------------------------------------------------ checks
    def _canonical(
        self, rows: pd.DataFrame, st: _BatchState, bid: str
    ) -> tuple[np.ndarray, list[str]]:
        """Canonical values of the new rows, checked (raises DataError).

        Returns:
            ``(n, 1 + V)`` float array (time, then the variables present) and the ``1 + V``
            canonical names of its columns.
        """
        src = f"monitor update of batch {bid}"
        names, pos = self._layout(rows, src)
        first_row = st.features.n_rows + 1
        block = None if self._stamps else _numbers(rows, pos, list(names.values()))
        if block is None:
            block = np.empty((len(rows), len(names)))
            for j, (c, col) in enumerate(names.items()):
                if c == schema.TIME and self._stamps:
                    block[:, j] = self._hours(rows[col], st, bid, first_row)
                    continue
                num, bad = to_float(rows[col])
                if bad.any():
                    raise NonNumericError(f"value {rows[col].to_numpy()[bad][0]!r} is not a number", batch=bid,
                                          column=c, rows=first_row + np.flatnonzero(bad), file=src)  # fmt: skip
                block[:, j] = num
        canon_names = list(names)
        for j, c in enumerate(canon_names):
            unit = None if (c == schema.TIME and self._stamps) else self._units.get(c)
            if unit:
                process = self.run.process if c != schema.TIME else None
                block[:, j] = units.convert(block[:, j], c, unit, process)
        check_rows(block, canon_names, batch=bid, first_row=first_row, source=src,
                   prev_time_h=st.features.last_time_h, bounds=self._bounds(canon_names))  # fmt: skip
        return block, canon_names

    def _layout(self, rows: pd.DataFrame, src: str) -> tuple[dict[str, str], list[int] | None]:
        """:meth:`_columns` of the rows and the positions of those columns in them (None
        when column names repeat), kept per column layout: a feed sends the same columns
        at every update, and reading a pandas header costs more than the update's maths."""
        cols = rows.columns
        for known, names, pos in self._layouts:
            if cols.equals(known):
                return names, pos
        names = self._columns(rows, src)
        pos = [cols.get_loc(c) for c in names.values()] if cols.is_unique else None
        self._layouts = [(cols, names, pos), *self._layouts[: _LAYOUTS - 1]]
        return names, pos

    def _columns(self, rows: pd.DataFrame, src: str) -> dict[str, str]:
        """Canonical name -> the rows' column name: time, required variables, other variables."""
        present = set(rows.columns)
        names: dict[str, str] = {}
        for c in [schema.TIME, *self.run.required]:
            theirs = self._cmap.source_name(c)
            col = theirs if theirs in present else c if c in present else None
            if col is None:
                raise MissingColumnError(c, available=list(rows.columns), file=src,
                                         looked_for=theirs if theirs != c else None)  # fmt: skip
            names[c] = col
        for col in rows.columns:
            c = self._renames.get(col, col)
            if c in self.run.process.names and c not in names:
                names[c] = col
        return names

    def _bounds_of(self, name: str) -> tuple[float, float]:
        """Valid range of a variable: the model's fitted one, else the run's process's."""
        prep = self.model.prep
        if name in prep.variables:
            return prep.bounds(name)
        if name in self.run.process.names:
            v = self.run.process.variable(name)
            return v.lo, v.hi
        return -np.inf, np.inf

    def _bounds(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        key = tuple(names)
        if key not in self._bounds_cache:
            self._bounds_cache[key] = physical_bounds(names, self._bounds_of)
        return self._bounds_cache[key]

    def _hours(self, values: pd.Series, st: _BatchState, bid: str, first_row: int) -> np.ndarray:
        zone = self._cmap.time_zone
        if zone is None:
            stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        else:  # local wall-clock times: continue from the batch's last row (DST repeat)
            last = (
                None
                if st.t0_stamp is None
                else (st.t0_stamp + pd.Timedelta(hours=float(st.features.last_time_h)))
            )
            try:
                stamps = local_time.localize_rows(values.reset_index(drop=True), zone, last)
            except DataError as err:
                err.batch, err.column, err.rows = bid, schema.TIME, (first_row,)
                raise
        bad = stamps.isna().to_numpy()
        if bad.any():
            raise NonNumericError("time is not a date/time", batch=bid, column=schema.TIME,
                                  rows=first_row + np.flatnonzero(bad))  # fmt: skip
        if st.t0_stamp is None:
            st.t0_stamp = stamps.iloc[0]
        return ((stamps - st.t0_stamp) / pd.Timedelta(hours=1)).to_numpy(dtype=float)


#: column layouts of incoming rows kept by a Monitor (most recent first)
_LAYOUTS = 8


def _numbers(rows: pd.DataFrame, pos: list[int] | None, theirs: list[str]) -> np.ndarray | None:
    """``(n, len(theirs))`` float copy of the rows' columns ``theirs`` (at ``pos``), or
    None when a cell is not a plain number (the caller then reads column by column).

    One conversion of the whole frame: selecting columns of a pandas frame costs more than
    converting all of a row's cells. Cells numpy cannot read as floats (missing values of a
    nullable column, dates) take pandas' own conversion, as before.
    """
    if pos is not None:
        try:
            return rows.to_numpy()[:, pos].astype(float)
        except (ValueError, TypeError):
            pass
    try:
        return rows[theirs].to_numpy(dtype=float, copy=True)
    except (ValueError, TypeError):
        return None
