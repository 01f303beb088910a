"""``forecaster optimize``: key factors across batches, a recommended recipe, feed plans.

::

    forecaster optimize --run checkpoints/NAME --input batches.csv --out results/optimize/

The input (finished and running batches) is read with the run's column map and process
(``--run`` is optional: without it, canonical CHO names). Finished batches give the key
factors (:func:`forecaster.optimize.key_factors`) and the recommended recipe
(:func:`forecaster.optimize.recommend`); each running batch gets a feed plan
(:mod:`forecaster.optimize.feed_plan`). Files in ``--out``: ``key_factors.csv``,
``effects.csv``, ``recipe.csv``, ``next_batches.csv`` (with ``--n_next``),
``feed_plans.csv`` (when batches are running), ``optimize.json``, ``key_factors.png``,
``recipe.png``, ``report.md``. They are written into a temporary folder and moved into
place only when all are complete; ``.forecaster-optimize.json`` lists them. Bad input: one
line and exit code 2.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.data.errors import DataError
from forecaster.threads import set_threads

MANIFEST = ".forecaster-optimize.json"
FORMAT_VERSION = 1
OPTIONS = {
    "run": "trained run folder (its process and column map); omit for canonical CHO names",
    "input": "batch table (CSV/Parquet): finished batches, and running ones for feed plans",
    "out": "output folder (key_factors.csv, recipe.csv, optimize.json, figures, report.md)",
    "bounds": "CSV (factor,lower,upper) or YAML {factor: [lower, upper]}: the factors you may change",
    "current": "CSV (factor,value) or YAML {factor: value}: the current recipe [batches' median]",
    "objective": "mean: expected titer; lower: the --quantile of the prediction (risk-averse)",
}


def build_parser(prog: str = "forecaster optimize"):
    """The optimize parser (jsonargparse, the convention of every command)."""
    from forecaster.cli import make_parser

    p = make_parser(prog, "Key factors across batches, a recommended recipe and feed plans.",
                    OPTIONS, usage="--input FILE --out DIR [--run RUN] [--KEY VALUE ...]")  # fmt: skip
    p.add_argument("--run", type=str, default="", help=OPTIONS["run"])
    p.add_argument("--input", type=str, required=True, help=OPTIONS["input"])
    p.add_argument("--out", type=str, required=True, help=OPTIONS["out"])
    p.add_argument("--bounds", type=str, default="", help=OPTIONS["bounds"])
    p.add_argument("--current", type=str, default="", help=OPTIONS["current"])
    p.add_argument("--objective", choices=("mean", "lower"), default="mean",
                   help=OPTIONS["objective"])  # fmt: skip
    p.add_argument("--quantile", type=float, default=0.1, help="quantile of --objective lower")
    p.add_argument("--n_next", type=int, default=0, help="also suggest this many next batches")
    p.add_argument("--n_boot", type=int, default=100, help="bootstrap samples of batches")
    p.add_argument("--n_trials", type=int, default=100, help="Optuna TPE trials")
    p.add_argument("--early_day", type=float, default=2.0, help="day of the early observations")
    p.add_argument("--lot_columns", type=str, default="",
                   help="comma-separated columns with one value per batch (media lot, seed train)")  # fmt: skip
    p.add_argument("--feed_plans", type=bool, default=True, help="plan feeds of running batches")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: automatic)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "forecaster optimize") -> int:
    """Command-line body; returns the exit code (user errors raise DataError)."""
    from forecaster.cli import parse_args
    from forecaster.optimize import extract_factors, key_factors, recommend
    from forecaster.serve.outputs import out_lock

    t0 = time.perf_counter()
    args, _ = parse_args(build_parser(prog), argv)
    if not 0.0 < args.quantile < 0.5:
        raise DataError(f"--quantile must be between 0 and 0.5, got {args.quantile}")
    if args.n_boot < 10 or args.n_trials < 1 or args.n_next < 0:
        raise DataError("--n_boot must be at least 10, --n_trials at least 1, --n_next >= 0")
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists() and not args.overwrite:
        raise DataError("--out is a folder with files that optimize did not write; choose a new "
                        "or empty folder, or add --overwrite", file=str(out))  # fmt: skip
    with out_lock(out, overwrite=True):
        set_threads(args.threads)
        process, cmap, table = _read(args.run, args.input)
        names = _Names(process, cmap)
        lots = [c.strip() for c in args.lot_columns.split(",") if c.strip()]
        bf = extract_factors(table, process, early_day=args.early_day, lot_columns=lots)
        if bf.y.notna().sum() == 0:
            raise DataError("no finished batch with a product assay (a batch is finished when "
                            "it lasts 90 % of the longest one)", file=args.input)  # fmt: skip
        bounds = {k: tuple(names.to_ours(k, bf, v)) for k, v in _pairs(args.bounds, 2, bf).items()}
        current = {k: names.to_ours(k, bf, [v])[0] for k, v in _pairs(args.current, 1, bf).items()}
        kf = key_factors(bf, n_boot=args.n_boot, seed=args.seed)
        rec = recommend(bf, controllable=list(bounds) or None, bounds=bounds, current=current,
                        objective=args.objective, quantile=args.quantile,
                        n_trials=args.n_trials, n_next=args.n_next, seed=args.seed)  # fmt: skip
        plans, plan_note = _feed_plans(table, bf, process, args.feed_plans)
        files = _write(out, bf, kf, rec, plans, plan_note, names, args, time.perf_counter() - t0)
    if kf.r2_loo < 0.1:
        print(f"warning: the factors explain little of the titer spread out of sample "
              f"(leave-one-out R2 {kf.r2_loo:.2f}); treat the recipe as a direction to test",
              file=sys.stderr)  # fmt: skip
    print(f"key factors of {kf.n_batches} batches, recommended recipe "
          f"({rec.current.mean:,.0f} -> {rec.recommended.mean:,.0f} {bf.product_unit}), "
          f"{len(files)} files in {time.perf_counter() - t0:.1f} s -> {out}", file=sys.stderr)  # fmt: skip
    return 0


def _read(run: str, path: str):
    """(process, column map, canonical validated table) of the input."""
    from forecaster.data.column_map import ColumnMap
    from forecaster.data.io import read_table
    from forecaster.data.process import default_process
    from forecaster.data.validate import validate_table

    if run:
        from forecaster.serve.reading import read_run_table
        from forecaster.serve.run_folder import load_run

        loaded = load_run(run)
        process, cmap = loaded.process, loaded.column_map
        table = read_run_table(loaded, path)
    else:
        process, cmap = default_process(), ColumnMap()
        table = read_table(path, process=process)
    report = validate_table(table, source=str(path), required=[process.product], min_rows=2,
                            strict=False, process=process, column_map=cmap)  # fmt: skip
    for p in report.problems:
        print(f"skipped: {' '.join(str(p).split())}", file=sys.stderr)
    return process, cmap, report.table


class _Names:
    """Factor labels and values in the user's column names and units."""

    def __init__(self, process, cmap) -> None:
        from forecaster.serve.display import OutputNames

        self.display = OutputNames(process, cmap)
        self.process = process

    def label(self, f) -> str:
        if f.source not in self.process.names:  # a lot column: already the user's name
            return f.label
        var = self.process.variable(f.source)
        theirs, ours = self.display.column(f.source), var.label or var.name
        if theirs == f.source or not f.label.startswith(ours):  # not renamed: the process label
            return f.label
        return theirs + f.label[len(ours) :]

    def _converted(self, f) -> bool:
        return f.unit != "day" and f.source in self.display.column_map.units

    def unit(self, f) -> str:
        return self.display.unit(f.source) if self._converted(f) else f.unit

    def to_theirs(self, name: str, bf, values) -> np.ndarray:
        f = bf.factor(name)
        x = np.asarray(values, float)
        return self.display.convert(f.source, x) if self._converted(f) else x

    def to_ours(self, name: str, bf, values) -> np.ndarray:
        from forecaster.data.units import convert

        f = bf.factor(name)
        x = np.asarray(values, float)
        if not self._converted(f):
            return x
        return convert(x, f.source, self.display.unit(f.source), self.process)


def _pairs(path: str, n: int, bf) -> dict[str, list[float]]:
    """``--bounds`` (n=2) or ``--current`` (n=1) file: factor (name or label) -> values."""
    if not path:
        return {}
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise DataError(
                f"not valid YAML ({' '.join(str(e).split())[:120]})", file=path
            ) from None
        if not isinstance(data, dict):
            raise DataError("expected a mapping of factor -> value(s)", file=path)
        rows = [(k, *(v if isinstance(v, list) else [v])) for k, v in data.items()]
    else:
        try:
            df = pd.read_csv(p)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise DataError(
                f"not a CSV table ({' '.join(str(e).split())[:120]})", file=path
            ) from None
        cols = ["factor", "lower", "upper"] if n == 2 else ["factor", "value"]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError(f"no column {missing[0]!r}", file=path, expected=", ".join(cols))
        rows = list(df[cols].itertuples(index=False, name=None))
    by_label = {f.label.lower(): f.name for f in bf.factors}
    out: dict[str, list[float]] = {}
    for i, (key, *vals) in enumerate(rows, start=2):
        name = key if key in bf.names() else by_label.get(str(key).lower())
        if name is None or bf.factor(name).kind == "early":
            known = ", ".join(bf.names("recipe", "start"))
            raise DataError(f"unknown factor {key!r} (line {i})", file=path, expected=known)
        try:
            values = [float(v) for v in vals]
        except (TypeError, ValueError):
            values = []
        if len(values) != n or not np.isfinite(values).all():
            want = "lower and upper" if n == 2 else "one value"
            raise DataError(f"factor {key!r} (line {i}) needs {want} as numbers", file=path)
        out[name] = values
    return out


def _feed_plans(table: pd.DataFrame, bf, process, wanted: bool) -> tuple[pd.DataFrame, str]:
    """Feed plans of the running batches (empty with a note when none or not possible)."""
    from forecaster import schema

    running = [str(b) for b in bf.y.index[bf.y.isna()]]
    if not wanted or not running:
        return pd.DataFrame(), "no running batch" if wanted else "not requested"
    try:
        from forecaster.optimize.feed_plan import plan_feeds
    except ImportError:  # the planner is optional: the recommendation stands without it
        return pd.DataFrame(), "no feed planner installed"
    try:
        rows = table[table[schema.BATCH_ID].astype(str).isin(running)]
        return plan_feeds(rows, process), f"{len(running)} running batches planned"
    except DataError as e:
        return pd.DataFrame(), f"feed plans skipped: {' '.join(str(e).split())}"


def _write(out: Path, bf, kf, rec, plans, plan_note, names: _Names, args, seconds) -> list[str]:
    """Write every output into a temporary folder, then move each into ``out``."""
    from forecaster.optimize.plots import key_factors_figure, recipe_figure

    meta = {f.name: f for f in bf.factors}
    kt = kf.table.copy()
    kt["label"] = [names.label(meta[f]) for f in kt["factor"]]
    kt["unit"] = [names.unit(meta[f]) for f in kt["factor"]]
    recipe = rec.recipe.copy()
    recipe["label"] = [names.label(meta[f]) for f in recipe["factor"]]
    recipe["unit"] = [names.unit(meta[f]) for f in recipe["factor"]]
    for col in ("current", "recommended", "lower_bound", "upper_bound"):
        recipe[col] = [float(f"{names.to_theirs(f, bf, [v])[0]:.6g}")
                       for f, v in zip(recipe["factor"], recipe[col])]  # fmt: skip
    theirs = names.display.column(bf.product)
    product = theirs if theirs != bf.product else bf.product_label
    unit = names.display.unit(bf.product)
    conv = lambda v: float(names.display.convert(bf.product, [v])[0])  # noqa: E731
    pred = {k: {"mean": conv(p.mean), "lo80": conv(p.lo), "hi80": conv(p.hi)}
            for k, p in (("current", rec.current), ("recommended", rec.recommended))}  # fmt: skip
    summary = {
        "format_version": FORMAT_VERSION, "product": product, "product_column": theirs,
        "product_unit": unit,
        "n_batches": kf.n_batches, "n_running": int(bf.y.isna().sum()),
        "methods": sorted(set(kt["method"])), "model_r2_loo": kf.r2_loo,
        "objective": rec.objective, "quantile": rec.quantile, "predicted_titer": pred,
        "top_factors": kf.top(k=3, kind="known"), "dropped_factors": bf.dropped, "feed_plans": plan_note,
        "recommend_seconds": rec.seconds, "total_seconds": seconds, "input": str(args.input),
        "run": args.run or None,
    }  # fmt: skip
    tables = {"key_factors.csv": kt, "effects.csv": kf.effects, "recipe.csv": recipe}
    if len(rec.next_batches):
        tables["next_batches.csv"] = rec.next_batches
    if len(plans):
        tables["feed_plans.csv"] = plans
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, df in tables.items():
            df.to_csv(tmp / name, index=False)
        (tmp / "optimize.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
        for name, fig in (("key_factors.png", key_factors_figure(kt, kf.effects, product, unit)),
                          ("recipe.png", recipe_figure(recipe, _Pred(pred["current"]),
                                                       _Pred(pred["recommended"]), product, unit))):  # fmt: skip
            fig.savefig(tmp / name, dpi=110)
            import matplotlib.pyplot as plt

            plt.close(fig)
        (tmp / "report.md").write_text(_report(kt, recipe, summary), encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        (tmp / MANIFEST).write_text(json.dumps({"written_by": "forecaster optimize",
                                                "written": stamp, "files": files}))  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        for name in [*files, MANIFEST]:
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


class _Pred:
    def __init__(self, d: dict) -> None:
        self.mean, self.lo, self.hi = d["mean"], d["lo80"], d["hi80"]


def _report(kt: pd.DataFrame, recipe: pd.DataFrame, s: dict) -> str:
    """``report.md``: the key-factors and recipe section."""
    p, u = s["product"], s["product_unit"]
    cur, rec = s["predicted_titer"]["current"], s["predicted_titer"]["recommended"]
    perm = kt[(kt["method"] == "permutation") & (kt["kind"] != "early")].sort_values("rank")
    lines = [
        f"# Key factors and recipe ({s['n_batches']} finished batches)", "",
        f"Batch model (ridge on each factor and its square): leave-one-out R\u00b2 "
        f"{s['model_r2_loo']:.2f} of the harvest {p} spread.", "",
        "## Key factors (permutation importance, 90 % bootstrap interval)", "",
        "| rank | factor | importance | interval | distinct from none |", "|---|---|---|---|---|",
    ]  # fmt: skip
    lines += [f"| {r.rank} | {r.label} ({r.unit}) | {r.importance:.3f} | {r.ci_lo:.3f} to "
              f"{r.ci_hi:.3f} | {'yes' if r.distinct else 'no'} |" for r in perm.itertuples()]  # fmt: skip
    lines += ["", "![key factors](key_factors.png)", "", "## Recommended recipe", "",
              f"Objective: {s['objective']}. Predicted harvest {p}: current recipe "
              f"{cur['mean']:,.0f} {u} (80 %: {cur['lo80']:,.0f}-{cur['hi80']:,.0f}), recommended "
              f"{rec['mean']:,.0f} {u} (80 %: {rec['lo80']:,.0f}-{rec['hi80']:,.0f}).", "",
              "| factor | current | recommended | bounds |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r.label} ({r.unit}) | {r.current:.4g} | {r.recommended:.4g} | "
              f"{r.lower_bound:.4g} to {r.upper_bound:.4g} |" for r in recipe.itertuples()]  # fmt: skip
    if s["model_r2_loo"] < 0.1:
        lines += ["", f"Caution: the factors explain little of the {p} spread out of sample; "
                  "treat the recommendation as a direction to test, not a forecast."]  # fmt: skip
    lines += ["", "![recipe](recipe.png)", "", f"Feed plans: {s['feed_plans']}.", ""]
    return "\n".join(lines)
