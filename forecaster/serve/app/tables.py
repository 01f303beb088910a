"""Tables the pages show: a run's metrics, one row per batch, filtering and paging.

Plain pandas, no Streamlit, so they are tested directly.
"""

from __future__ import annotations

import math

import pandas as pd

from forecaster import schema

__all__ = ["ANOMALY_COLUMNS", "anomaly_table", "batch_summary", "coverage_table", "feed_table",
           "filter_batches", "mape_table", "page_of"]  # fmt: skip

#: anomaly metrics shown per detector (those missing in a run are left out)
ANOMALY_COLUMNS = ["event_recall", "precision", "f1", "false_alarms_per_100_batch_days",
                   "median_delay_h", "top_variable_accuracy", "auroc", "auprc"]  # fmt: skip
STATUS = ("running", "finished")


def _models(section: dict, key: str) -> dict[str, dict]:
    """The models of a metrics section that report ``key`` (any model, in file order)."""
    return {m: v for m, v in (section or {}).items() if isinstance(v, dict) and key in v}


def feed_table(metrics: dict) -> pd.DataFrame:
    """Feed-rate forecast per model: R² and RMSE (mL/h) on the test batches."""
    rows = [(m, v.get("r2"), v.get("rmse")) for m, v in _models(metrics.get("feed"), "r2").items()]
    return pd.DataFrame(rows, columns=["model", "feed R²", "feed RMSE (mL/h)"])


def mape_table(metrics: dict, section: str = "titer") -> pd.DataFrame:
    """Harvest-titer MAPE (%) by origin day for every model in ``metrics[section]``.

    Returns:
        One row per model, one column per origin day (``day 3`` ...), None where a model
        has no value for that day.
    """
    models = _models(metrics.get(section) or {}, "harvest_mape_by_day")
    days = sorted({d for v in models.values() for d in v["harvest_mape_by_day"]}, key=float)
    rows = []
    for m, v in models.items():
        by_day = v["harvest_mape_by_day"]
        rows.append([m, *(_pct(by_day.get(d)) for d in days)])
    return pd.DataFrame(rows, columns=["model", *(f"day {d}" for d in days)])


def coverage_table(metrics: dict) -> pd.DataFrame:
    """80 % interval coverage per model: overall and by origin day (nominal 0.80)."""
    rows = []
    for m, v in _models(metrics.get("titer") or {}, "pi80_coverage").items():
        by_day = v.get("pi80_coverage_by_day") or {}
        rows.append({"model": m, "overall": v.get("pi80_coverage"),
                     **{f"day {d}": by_day[d] for d in sorted(by_day, key=float)}})  # fmt: skip
    return pd.DataFrame(rows)


def interval_table(metrics: dict, level: str = "80") -> pd.DataFrame:
    """Conformal intervals of every model at ``level`` %: coverage and width by origin day.

    Returns:
        One row per model with any value: ``coverage day d`` (fraction, nominal level/100)
        and ``width day d`` (% of the harvest titer) for each origin day.
    """
    rows = []
    for m, v in _models(metrics.get("titer") or {}, "coverage").items():
        cov = (v.get("coverage") or {}).get(level) or {}
        wid = (v.get("width_pct") or {}).get(level) or {}
        days = sorted(set(cov) | set(wid), key=float)
        if not any(cov.get(d) is not None or wid.get(d) is not None for d in days):
            continue
        row = {"model": m}
        for d in days:
            row[f"coverage day {d}"] = cov.get(d)
            row[f"width day {d} (%)"] = wid.get(d)
        rows.append(row)
    return pd.DataFrame(rows)


def chosen_table(metrics: dict) -> pd.DataFrame:
    """The ladder's choice per origin day (``titer.chosen.rung_by_day``) and its MAPE (%)."""
    chosen = (metrics.get("titer") or {}).get("chosen") or {}
    rungs = chosen.get("rung_by_day") or {}
    mape = chosen.get("harvest_mape_by_day") or {}
    days = sorted(rungs, key=float)
    return pd.DataFrame({"origin day": [float(d) for d in days], "chosen model": [rungs[d] for d in days],
                         "MAPE (%)": [_pct(mape.get(d)) for d in days]})  # fmt: skip


def anomaly_table(metrics: dict) -> pd.DataFrame:
    """One row per anomaly detector (autoencoder, rules, pca, combined, ...)."""
    rows = []
    for name, v in _models(metrics.get("anomaly") or {}, "event_recall").items():
        rows.append({"detector": name, **{c: v.get(c) for c in ANOMALY_COLUMNS if c in v}})
    return pd.DataFrame(rows)


def _pct(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else 100.0 * float(x)


def batch_summary(res) -> pd.DataFrame:
    """One row per predicted batch of a ``Predictions`` result.

    Columns: batch_id, status (running / finished: a batch is finished when its last row
    reaches the forecast's harvest day), day (last row, culture days), harvest titer with
    its 80 % interval (mg/L), which forecast was served (``forecast_by``: the training's
    choice for that origin day, or the network on a finished batch), next recommended feed
    (mL/h), open and total alarms, top variables behind the harvest forecast.
    """
    p = res.predictions
    if p.empty:
        return pd.DataFrame(columns=["batch_id", "status", "day", "harvest_titer_mg_L",
                                     "p10_mg_L", "p90_mg_L", "forecast_by", "feed_next_mL_h",
                                     "open_alarms", "alarms", "top_variables"])  # fmt: skip
    tr = res.trajectories
    finished = tr.groupby(schema.BATCH_ID, sort=False)["fitted"].all() if not tr.empty else None
    a = res.alarms
    open_n = a[a["open"].astype(bool)].groupby(schema.BATCH_ID).size() if not a.empty else None
    ids = p[schema.BATCH_ID].astype(str)
    out = pd.DataFrame({
        "batch_id": ids,
        "status": [STATUS[bool(finished.get(b, False))] if finished is not None else STATUS[0]
                   for b in ids],
        "day": p["last_time_h"].to_numpy(dtype=float) / 24.0,
        "harvest_titer_mg_L": p["harvest_titer_mg_L"],
        "p10_mg_L": p["harvest_titer_p10_mg_L"],
        "p90_mg_L": p["harvest_titer_p90_mg_L"],
        "forecast_by": (p["harvest_forecast_by"] if "harvest_forecast_by" in p
                        else pd.Series("sequence", index=p.index)),
        "feed_next_mL_h": p["feed_next_mL_h"],
        "open_alarms": [int(open_n.get(b, 0)) if open_n is not None else 0 for b in ids],
        "alarms": p["n_alarms"].astype(int),
        "top_variables": p["top_variables"].fillna("").str.replace(";", ", "),
    })  # fmt: skip
    return out.reset_index(drop=True)


def filter_batches(
    summary: pd.DataFrame,
    text: str = "",
    status: list[str] | None = None,
    with_alarms: bool = False,
    sort_by: str = "batch_id",
    descending: bool = False,
) -> pd.DataFrame:
    """Rows whose batch id contains ``text`` (any case), of the given statuses, sorted."""
    keep = pd.Series(True, index=summary.index)
    if text:
        keep &= summary["batch_id"].str.contains(text, case=False, regex=False)
    if status:
        keep &= summary["status"].isin(status)
    if with_alarms:
        keep &= summary["open_alarms"] > 0
    out = summary[keep]
    if sort_by in out.columns:
        out = out.sort_values(sort_by, ascending=not descending, kind="stable")
    return out.reset_index(drop=True)


def page_of(table: pd.DataFrame, page: int, size: int) -> tuple[pd.DataFrame, int]:
    """Rows of 1-based ``page`` (clamped to the last one) and the number of pages."""
    n_pages = max(1, math.ceil(len(table) / max(size, 1)))
    page = min(max(page, 1), n_pages)
    return table.iloc[(page - 1) * size : page * size], n_pages
