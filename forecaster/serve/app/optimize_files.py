"""The outputs of ``forecaster optimize`` read back for the app (no Streamlit here).

An output folder holds ``optimize.json`` and ``key_factors.csv`` and ``recipe.csv``, and may
hold ``feed_plans.csv``, ``effects.csv`` and ``next_batches.csv`` (see docs/optimize.md).
Every problem is a :class:`~forecaster.data.errors.DataError` naming the file and what was
expected, so the page shows it as one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecaster.data.errors import DataError

__all__ = ["OptimizeOutputs", "find_outputs", "load_outputs", "titer_rows"]

#: the format of ``optimize.json`` this page reads
FORMAT_VERSION = 1
KEY_FACTORS = ("factor", "label", "unit", "method", "importance", "ci_lo", "ci_hi", "rank")
RECIPE = ("factor", "label", "unit", "current", "recommended", "lower_bound", "upper_bound")
FEED_PLANS = ("batch_id", "time_h", "predicted_titer", "predicted_titer_default")
SUMMARY = ("product", "product_unit", "n_batches", "methods", "predicted_titer")
#: method names as the page shows them
METHOD_LABELS = {"permutation": "Permutation importance (drop in R²)", "pls_vip": "PLS VIP"}


@dataclass(frozen=True)
class OptimizeOutputs:
    """One output folder of ``forecaster optimize``.

    Attributes:
        folder: the folder read.
        summary: ``optimize.json`` (product, units, batches, predicted titer, top factors).
        key_factors: one row per factor and method (importance with its 90 % interval, rank).
        recipe: one row per controllable factor: current, recommended value and bounds, in
            the user's units.
        feed_plans: one row per running batch and decision interval (None when absent).
        effects: partial dependence of the top factors (None when absent).
    """

    folder: Path
    summary: dict
    key_factors: pd.DataFrame
    recipe: pd.DataFrame
    feed_plans: pd.DataFrame | None
    effects: pd.DataFrame | None

    @property
    def feed_column(self) -> str | None:
        """The feed-rate column of ``feed_plans`` (the one that is not a known column)."""
        if self.feed_plans is None:
            return None
        known = {*FEED_PLANS, "temperature_setpoint_C", "glucose_target_g_L"}
        rest = [c for c in self.feed_plans.columns if c not in known]
        return rest[0] if rest else None


def find_outputs(folder: Path, depth: int = 3) -> list[Path]:
    """Output folders (with ``optimize.json``) at most ``depth`` levels below ``folder``.

    Returns:
        Paths, newest first (by the time ``optimize.json`` was written).
    """
    if not folder.is_dir():
        return []
    found = []
    for level in range(depth + 1):
        pattern = "/".join(["*"] * level + ["optimize.json"])
        found += [
            p.parent for p in folder.glob(pattern) if (p.parent / "key_factors.csv").is_file()
        ]
    found = sorted(set(found), key=lambda p: (p / "optimize.json").stat().st_mtime_ns, reverse=True)
    return found


def _csv(path: Path, columns: tuple[str, ...], required: bool = True) -> pd.DataFrame | None:
    if not path.is_file():
        if required:
            raise DataError(f"{path}: file missing; expected the outputs of forecaster optimize")
        return None
    try:
        df = pd.read_csv(path)
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: cannot be read as CSV ({' '.join(str(err).split())})") from err
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing columns {', '.join(missing)}; expected {', '.join(columns)}"
        )
    return df


def load_outputs(folder: Path) -> OptimizeOutputs:
    """Read and check one output folder.

    Raises:
        DataError: a file is missing, unreadable, lacks a column, or is of another format.
    """
    path = folder / "optimize.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(
            f"{folder}: no optimize.json; not an output folder of forecaster optimize"
        ) from err
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: not valid JSON ({' '.join(str(err).split())})") from err
    if not isinstance(summary, dict):
        raise DataError(f"{path}: expected a JSON object")
    version = summary.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise DataError(f"{path}: format_version {version}; this app reads {FORMAT_VERSION}")
    missing = [k for k in SUMMARY if k not in summary]
    if missing:
        raise DataError(f"{path}: missing keys {', '.join(missing)}")
    kf = _csv(folder / "key_factors.csv", KEY_FACTORS)
    recipe = _csv(folder / "recipe.csv", RECIPE)
    plans = _csv(folder / "feed_plans.csv", FEED_PLANS, required=False)
    effects = _csv(folder / "effects.csv", ("factor", "value", "titer"), required=False)
    return OptimizeOutputs(folder, summary, kf, recipe, plans, effects)


def titer_rows(summary: dict) -> pd.DataFrame:
    """Predicted product titer of the current and the recommended recipe.

    Returns:
        DataFrame with rows ``current``, ``recommended`` and columns recipe, mean, lo80,
        hi80 (the product's unit), and the gain over the current recipe in %.
    """
    pred = summary.get("predicted_titer") or {}
    rows = []
    for name in ("current", "recommended"):
        p = pred.get(name) or {}
        rows.append(
            {"recipe": name, "mean": p.get("mean"), "lo80": p.get("lo80"), "hi80": p.get("hi80")}
        )
    df = pd.DataFrame(rows)
    base = df["mean"].iloc[0]
    df["gain_pct"] = (df["mean"] / base - 1.0) * 100.0 if base else float("nan")
    return df
