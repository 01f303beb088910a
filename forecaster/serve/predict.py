"""Predict on new batches from a run folder: ``python -m forecaster.predict``.

For every batch of the input (complete or still running) the run's models give the
recommended next feed rate, the harvest-titer forecast with its 80 % interval and daily
trajectory, the autoencoder and rule alarms with reasons, and the top attributions behind
the harvest-titer forecast::

    python -m forecaster.predict --run checkpoints/NAME --input new_batches.csv --out results/

The run folder is checked first (``forecaster.bundle.verify``). The input is read with the
run's process definition (``process.json``) and column map (:mod:`forecaster.serve.run_folder`),
so the user's own column names and units work; the output files answer in them
(:mod:`forecaster.serve.display`). A batch with a problem is reported (stderr, ``problems.csv``, ``report.md``) and
skipped while the others are predicted, unless ``--strict``. ``--out`` is checked and
locked before any computing; a non-empty folder predict did not write needs
``--overwrite``. Outputs are written into a temporary folder beside ``--out`` and moved
into place only when everything succeeded (see :mod:`forecaster.serve.outputs`).
Exit code: 0 if at least one batch was predicted, 2 on any user error (one line, no
traceback) or when no batch could be predicted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError
from forecaster.models.decode import QuantilePick, daily_trajectory
from forecaster.serve.cadence import on_trained_grid
from forecaster.serve.display import OutputNames
from forecaster.serve.reading import MIN_ROWS, check_columns, read_for_run, validate_for_run
from forecaster.serve.run_folder import LoadedRun, load_run
from forecaster.threads import set_threads

__all__ = ["MIN_ROWS", "LoadedRun", "check_columns", "load_run", "main", "predict_file_in_chunks",
           "predict_table", "read_for_run", "validate_for_run"]  # fmt: skip

#: Batches per vectorised pass (network, detector, attributions) and per progress tick.
CHUNK = 256


@dataclass
class Predictions:
    """Result of :func:`predict_table` (all units in the column names).

    Attributes:
        predictions: one row per predicted batch (``PREDICTION_COLUMNS``).
        trajectories: batch_id, day, titer_p10_mg_L, titer_mg_L, titer_p90_mg_L, fitted
            (True: a day at or before the last row). Days 1 to the harvest day; the harvest
            day's row is the harvest forecast of ``predictions``.
        alarms: one row per alarm (``ALARM_COLUMNS``).
        attributions: batch_id, rank, variable, share (harvest-titer forecast).
        problems: one error per skipped batch.
        batches: the validated rows of every predicted batch.
        steps: per batch, the forecaster's per-step outputs (``time_h``, ``feed``, ...).
        events: per batch, its ``AlarmEvent`` objects.
        source: where the table came from.
        seconds: wall time per phase.
        quantiles: the forecaster's quantiles (Q,), e.g. [0.1, 0.5, 0.9].
        display: the user's names, units and batch start dates; the tables above stay
            canonical, :mod:`forecaster.serve.outputs` writes them through it.
    """

    predictions: pd.DataFrame
    trajectories: pd.DataFrame
    alarms: pd.DataFrame
    attributions: pd.DataFrame
    problems: list[DataError] = field(default_factory=list)
    batches: dict[str, pd.DataFrame] = field(default_factory=dict)
    steps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    events: dict[str, list] = field(default_factory=dict)
    source: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    quantiles: list[float] = field(default_factory=list)
    display: OutputNames | None = None


PREDICTION_COLUMNS = [
    schema.BATCH_ID,
    "last_time_h",
    "n_rows",
    "feed_next_mL_h",
    "harvest_titer_mg_L",
    "harvest_titer_p10_mg_L",
    "harvest_titer_p90_mg_L",
    "harvest_forecast_by",
    "n_alarms",
    "n_incidents",
    "top_variables",
]
TRAJECTORY_COLUMNS = [schema.BATCH_ID, "day", "titer_p10_mg_L", "titer_mg_L", "titer_p90_mg_L",
                      "fitted"]  # fmt: skip
ALARM_COLUMNS = [schema.BATCH_ID, "incident_id", "detector", "rule", "start_h", "raised_h",
                 "end_h", "score", "threshold", "open", "top_variables", "reason"]  # fmt: skip
ATTRIBUTION_COLUMNS = [schema.BATCH_ID, "rank", "variable", "share"]


def predict_table(
    run: LoadedRun,
    table: pd.DataFrame | str | os.PathLike,
    *,
    source: str | None = None,
    strict: bool = False,
    attributions: bool = True,
    top_k: int = 5,
    method: str = "ig",
    alarms: bool = True,
    progress: bool | None = None,
) -> Predictions:
    """Forecasts, alarms and attributions for every batch of a table.

    Args:
        run: from :func:`load_run`.
        table: canonical batch table, or a path to the user's CSV/Parquet file (read through
            the run's column map).
        source: name used in messages (default: the path, or ``"table"``).
        strict: raise the first per-batch problem instead of skipping the batch.
        attributions: compute the top ``top_k`` attributions of the harvest-titer forecast.
        method: attribution method, ``ig`` or ``ablation``.
        alarms: run the anomaly detector (if the run has one).
        progress: progress bar on stderr (None: when there are 50 batches or more).

    Returns:
        :class:`Predictions`; batches with problems are in ``problems``.
    """
    t0 = time.perf_counter()
    if isinstance(table, (str, os.PathLike)):
        report = read_for_run(run, table, strict=strict)
        source = source or str(table)
    else:
        source = source or "table"
        report = validate_for_run(run, table, source, strict=strict)
    report.table = on_trained_grid(run, report.table)
    seconds = {"read_validate_s": time.perf_counter() - t0}
    display = OutputNames.for_table(run.process, run.column_map, report.table.attrs)
    groups = [g for _, g in report.table.groupby(schema.BATCH_ID, sort=False)]
    if progress is None:
        progress = len(groups) >= 50
    from tqdm.auto import tqdm

    parts: list[dict] = []
    bar = tqdm(total=len(groups), unit="batch", disable=not progress, file=sys.stderr, leave=False)
    for i in range(0, len(groups), CHUNK):
        parts.append(
            _predict_chunk(
                run, groups[i : i + CHUNK], attributions, top_k, method, alarms, seconds, display
            )
        )
        bar.update(len(groups[i : i + CHUNK]))
    bar.close()
    seconds["total_s"] = time.perf_counter() - t0
    res = _collect(parts, report.problems, source, seconds)
    res.quantiles = list(run.model.net.quantiles)
    res.display = display
    return res


def predict_file_in_chunks(
    run: LoadedRun,
    path: str | os.PathLike,
    *,
    batches_per_chunk: int = CHUNK,
    strict: bool = False,
    **kwargs,
) -> Iterator[Predictions]:
    """:func:`predict_table` on a file, ``batches_per_chunk`` batches at a time (``kwargs``
    go to it): memory stays bounded by a chunk (:mod:`forecaster.serve.batch_reader`); the
    parts, joined by :func:`join_predictions`, equal one ``predict_table(run, path)``. The
    table-level checks (a used column entirely empty) apply to each chunk."""
    from forecaster.serve.batch_reader import read_in_chunks

    src = str(path)
    for table in read_in_chunks(path, run.column_map, batches_per_chunk, process=run.process):
        yield predict_table(run, table, source=src, strict=strict, **kwargs)


def join_predictions(parts: Sequence[Predictions]) -> Predictions:
    """One :class:`Predictions` from the parts of :func:`predict_file_in_chunks` (tables,
    problems, per-batch outputs that the parts still hold, summed seconds)."""
    first = parts[0]

    def cat(key: str) -> pd.DataFrame:
        frames = [getattr(p, key) for p in parts if len(getattr(p, key))]
        return pd.concat(frames, ignore_index=True) if frames else getattr(first, key)

    seconds = {k: sum(p.seconds.get(k, 0.0) for p in parts) for k in first.seconds}
    return Predictions(
        predictions=cat("predictions"), trajectories=cat("trajectories"), alarms=cat("alarms"),
        attributions=cat("attributions"), problems=[e for p in parts for e in p.problems],
        batches={b: g for p in parts for b, g in p.batches.items()},
        steps={b: s for p in parts for b, s in p.steps.items()},
        events={b: e for p in parts for b, e in p.events.items()},
        source=first.source, seconds=seconds, quantiles=list(first.quantiles),
        display=_merged_display(parts),
    )  # fmt: skip


def _merged_display(parts: Sequence[Predictions]) -> OutputNames | None:
    out = None
    for p in parts:
        out = p.display if out is None else out.merged(p.display)
    return out


def _predict_chunk(run, groups, attributions, top_k, method, alarms, seconds, display) -> dict:
    model = run.model
    pick = QuantilePick.of(model.net.quantiles)
    lo, mid, hi = pick
    t = time.perf_counter()
    rows = [g.sort_values(schema.TIME, kind="stable") for g in groups]
    ids = [str(g[schema.BATCH_ID].iloc[0]) for g in rows]
    steps = model.step_outputs(rows)  # decoded: unscaled, clipped at 0
    if run.choice is not None:  # the harvest forecast training chose (forecast/chosen.json)
        steps = run.choice.apply(rows, steps)
    if not model.prep.product_in_run:  # dashboards: no daily curve before the harvest
        steps = [{**o, "product_in_run": False} for o in steps]
    seconds["forecast_s"] = seconds.get("forecast_s", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    events: dict[str, list] = {b: [] for b in ids}
    if alarms and run.detector is not None:  # reasons in the user's names, units and dates
        vocab = [display.vocabulary(b) for b in ids]
        events.update(zip(ids, run.detector.detect_many(rows, vocabularies=vocab)))
    seconds["alarms_s"] = seconds.get("alarms_s", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    tops: dict[str, list[tuple[str, float]]] = {}
    if attributions and rows:
        from forecaster.explain.explainer import explain_batches

        for r in explain_batches(model, rows, target="titer", method=method, baseline=run.baseline):
            tops[r.batch_id] = r.top(top_k)
    seconds["attributions_s"] = seconds.get("attributions_s", 0.0) + time.perf_counter() - t
    pred, traj, alarm_rows, attr = [], [], [], []
    recipe = getattr(run, "feed_recipe", None)
    for b, g, o in zip(ids, rows, steps):
        h = o["harvest"][-1]
        top = tops.get(b, [])
        feed_next = float(o["feed"][-1])
        if recipe is not None:  # the feed follows a schedule: recommend its next value
            t_last = o["time_h"]
            dt = float(np.median(np.diff(t_last))) if len(t_last) > 1 else 1.0
            feed_next = recipe.next_value(float(t_last[-1]) + dt)
        by = (run.choice.label(o["time_h"][-1], run.choice.planned_harvest(g))
              if run.choice is not None else "sequence")  # fmt: skip
        pred.append((b, float(o["time_h"][-1]), len(g), feed_next, float(h[mid]), float(h[lo]),
                     float(h[hi]), by, len(events[b]), len({e.incident_id for e in events[b]}),
                     ";".join(v for v, _ in top)))  # fmt: skip
        days, tr, fitted = daily_trajectory(o["time_h"], o["trajectory"], pick)
        if not model.prep.product_in_run:  # measured only at harvest: no daily curve
            last = days == days.max() if days.size else np.zeros(0, dtype=bool)
            days, tr, fitted = days[last], tr[last], fitted[last]
        traj.append(pd.DataFrame({schema.BATCH_ID: b, "day": days, "titer_p10_mg_L": tr[:, 0],
                                  "titer_mg_L": tr[:, 1], "titer_p90_mg_L": tr[:, 2],
                                  "fitted": fitted}))  # fmt: skip
        alarm_rows += [_alarm_row(e) for e in events[b]]
        attr += [(b, k + 1, v, float(s)) for k, (v, s) in enumerate(top)]
    return {"pred": pred, "traj": traj, "alarms": alarm_rows, "attr": attr, "ids": ids, "rows": rows,
            "steps": steps, "events": events}  # fmt: skip


def _alarm_row(e) -> tuple:
    tops = ";".join(f"{v}:{s:.2f}" for v, s in e.top_variables)
    return (e.batch_id, e.incident_id, e.detector, e.rule or "", float(e.start_h), float(e.raised_h),
            float(e.end_h), float(e.peak_score), float(e.threshold), bool(e.open), tops,
            e.reason)  # fmt: skip


def _collect(
    parts: list[dict], problems: list[DataError], source: str, seconds: dict
) -> Predictions:
    def frame(key: str, cols: list[str]) -> pd.DataFrame:
        return pd.DataFrame([r for p in parts for r in p[key]], columns=cols)

    traj = [d for p in parts for d in p["traj"]]
    return Predictions(
        predictions=frame("pred", PREDICTION_COLUMNS),
        trajectories=pd.concat(traj, ignore_index=True)
        if traj
        else pd.DataFrame(columns=TRAJECTORY_COLUMNS),
        alarms=frame("alarms", ALARM_COLUMNS),
        attributions=frame("attr", ATTRIBUTION_COLUMNS),
        problems=list(problems),
        batches={b: g for p in parts for b, g in zip(p["ids"], p["rows"])},
        steps={b: s for p in parts for b, s in zip(p["ids"], p["steps"])},
        events={b: e for p in parts for b, e in p["events"].items()},
        source=source,
        seconds=seconds,
    )


# ------------------------------------------------------------------------ command line
#: ``--help`` lists every option of predict (they are few).
OPTIONS = {
    "run": "run folder, e.g. checkpoints/NAME",
    "input": "batch table (CSV or Parquet), canonical or in the run's column map",
    "out": "output folder (new, empty, or written by predict before)",
    "overwrite": "also into a folder predict did not write (its files are kept)",
    "no_pictures": "skip the per-batch PNG dashboards",
    "no_attributions": "skip attributions (faster)",
    "strict": "fail on the first problem instead of skipping the batch",
    "top_k": "attributions kept per batch",
    "method": "attribution method: ig or ablation",
    "threads": "torch CPU threads (0 = all cores)",
    "progress": "progress bar: --progress / --no-progress (default: >= 50 batches)",
}


def build_parser(prog: str = "python -m forecaster.predict"):
    """The predict parser (jsonargparse, the convention of every command)."""
    from forecaster.cli import make_parser

    p = make_parser(
        prog,
        "Forecast, alarm and explain new (complete or running) batches with a trained run folder.",
        OPTIONS,
        usage="--run RUN --input FILE --out DIR [--KEY VALUE ...]",
    )
    h = OPTIONS
    p.add_argument("--run", type=str, required=True, help=h["run"])
    p.add_argument("--input", type=str, required=True, help=h["input"])
    p.add_argument("--out", type=str, required=True, help=h["out"])
    p.add_argument("--overwrite", action="store_true", help=h["overwrite"])
    p.add_argument("--no_pictures", "--no-pictures", action="store_true", help=h["no_pictures"])
    p.add_argument(
        "--no_attributions", "--no-attributions", action="store_true", help=h["no_attributions"]
    )
    p.add_argument("--strict", action="store_true", help=h["strict"])
    p.add_argument("--top_k", type=int, default=5, help=h["top_k"])
    p.add_argument("--method", choices=("ig", "ablation"), default="ig", help=h["method"])
    p.add_argument("--threads", type=int, default=0, help=h["threads"])
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help=h["progress"]
    )
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m forecaster.predict") -> int:
    """Command-line body; returns the exit code (user errors raise DataError).

    ``--out`` is checked and locked before anything is computed (see
    :func:`forecaster.serve.outputs.out_lock`).
    """
    from forecaster.cli import parse_args
    from forecaster.serve.outputs import OutputWriter, out_lock, problem_line

    t0 = time.perf_counter()
    args, _ = parse_args(build_parser(prog), argv)
    if args.top_k < 1:
        raise DataError(f"--top_k must be at least 1, got {args.top_k}")
    with out_lock(args.out, overwrite=args.overwrite):
        set_threads(args.threads)
        run = load_run(args.run)
        writer = OutputWriter(args.out, run_dir=run.run_dir, pictures=not args.no_pictures,
                              progress=args.progress, overwrite=args.overwrite)  # fmt: skip
        with writer:
            parts = []
            for part in predict_file_in_chunks(
                run, args.input, strict=args.strict, attributions=not args.no_attributions,
                top_k=args.top_k, method=args.method, progress=args.progress,
            ):  # fmt: skip
                writer.add_dashboards(part)  # then the chunk's rows and steps are let go
                part.batches, part.steps, part.events = {}, {}, {}
                parts.append(part)
            res = join_predictions(parts)
            for p in res.problems:
                print(f"skipped: {problem_line(p)}", file=sys.stderr)
            if res.predictions.empty:
                raise DataError(
                    f"no batch could be predicted ({len(res.problems)} skipped, see above); "
                    "nothing was written",
                    file=str(args.input),
                )
            out = writer.finish(res)
    total = time.perf_counter() - t0  # everything: loading, predicting, pictures, writing
    print(
        f"predicted {len(res.predictions)} batches ({len(res.problems)} skipped, "
        f"{len(res.alarms)} alarms) in {total:.1f} s -> {out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    from forecaster.cli import cli_main

    cli_main(main)
