"""Forecast metrics on held-out batches, identical for the sequence model and the RF.

Keys (fixed, scripts read them): ``feed.<model>.r2|rmse`` over every step of the test
batches; ``titer.<model>.harvest_mape_by_day|harvest_r2_by_day`` keyed by forecast-origin
day ("3", "5", "7", "10": forecasts made with the rows up to that day);
``titer.sequence.pi80_coverage``; ``titer.noise_floor_mape``. ``titer`` is the process's
product and ``feed`` its feed (CHO: titer and feed rate); a process without a feed has no
feed metrics. Origin days that do not lie inside the batches (a 10-day batch has no day-10
origin) are dropped (:func:`origin_days_within`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data import targets
from forecaster.models.decode import QuantilePick

ORIGIN_DAYS = (3, 5, 7, 10)
#: rows of the results tables: the forecast the tool gives, the models, the naive rungs
LADDER_ORDER = ("chosen", "sequence", "rf", "ridge", "ridge_summary", "naive_ratio", "naive_slope",
                "naive_mean")  # fmt: skip


def r2_score(y: np.ndarray, p: np.ndarray) -> float:
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if y.size < 2:
        return float("nan")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    ok = np.isfinite(y) & np.isfinite(p)
    return float(np.sqrt(np.mean((y[ok] - p[ok]) ** 2))) if ok.any() else float("nan")


def mape(y: np.ndarray, p: np.ndarray) -> float:
    ok = np.isfinite(y) & np.isfinite(p) & (np.abs(y) > 0)
    return float(np.mean(np.abs((p[ok] - y[ok]) / y[ok]))) if ok.any() else float("nan")


def origin_days_within(
    batches: Sequence[pd.DataFrame], days: Sequence[int] = ORIGIN_DAYS
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The origin days that lie inside the batches, and the dropped ones.

    A day is kept when its origin (``24 * day`` h) comes before the last row of at least
    half of the batches (the median batch runs past it).

    Returns:
        ``(kept, dropped)`` days, each in the order given.
    """
    ends = [float(g[schema.TIME].max()) for g in batches if len(g)]
    if not ends:
        return tuple(days), ()
    end = float(np.median(ends))
    kept = tuple(int(d) for d in days if 24.0 * d < end)
    return kept, tuple(int(d) for d in days if d not in kept)


def prefixes_at(batches: Sequence[pd.DataFrame], origin_h: float) -> list[pd.DataFrame]:
    """Rows with ``time_h <= origin_h`` of each batch that runs past the origin."""
    out = []
    for g in batches:
        t = g[schema.TIME].to_numpy(dtype=float)
        if t[-1] > origin_h:
            out.append(g[t <= origin_h])
    return out


def evaluate_sequence(
    model, batches: Sequence[pd.DataFrame], origin_days: Sequence[int] = ORIGIN_DAYS
) -> dict:
    """Metrics of the sequence model: one network pass per batch covers every prefix
    (forecasts decoded by :func:`forecaster.models.decode.decode`, as predict and Monitor).
    The product and the feed are the model's (``model.prep``); no feed: no ``feed`` key."""
    outs = model.step_outputs(batches)
    product, feed = model.prep.product, model.prep.feed
    y_feed, p_feed = [], []
    by_day: dict[str, tuple[list, list, list, list]] = {
        str(d): ([], [], [], []) for d in origin_days
    }
    lo, mid, hi = QuantilePick.of(model.net.quantiles)
    cover = []
    for g, o in zip(batches, outs):
        y = targets.next_feed(g, feed)
        y_feed.append(y)
        p_feed.append(o["feed"])
        h = targets.harvest_titer(g, product)
        for d in origin_days:
            idx = np.flatnonzero(o["time_h"] <= 24.0 * d)
            if idx.size == 0 or o["time_h"][-1] <= 24.0 * d:
                continue
            pred = o["harvest"][idx[-1]]
            ys, ps, los, his = by_day[str(d)]
            ys.append(h)
            ps.append(pred[mid])
            los.append(pred[lo])
            his.append(pred[hi])
    y_feed_a, p_feed_a = np.concatenate(y_feed), np.concatenate(p_feed)
    res = {
        "feed": {"r2": r2_score(y_feed_a, p_feed_a), "rmse": rmse(y_feed_a, p_feed_a)},
        "titer": {"harvest_mape_by_day": {}, "harvest_r2_by_day": {}},
    }
    for d, (ys, ps, los, his) in by_day.items():
        ys_a, ps_a = np.asarray(ys), np.asarray(ps)
        res["titer"]["harvest_mape_by_day"][d] = mape(ys_a, ps_a)
        res["titer"]["harvest_r2_by_day"][d] = r2_score(ys_a, ps_a)
        cover.append((np.asarray(los) <= ys_a) & (ys_a <= np.asarray(his)))
    allc = np.concatenate(cover) if cover else np.array([])
    res["titer"]["pi80_coverage"] = float(allc.mean()) if allc.size else float("nan")
    res["titer"]["pi80_coverage_by_day"] = {
        d: float(c.mean()) if c.size else float("nan") for d, c in zip(by_day, cover)
    }
    if feed is None:
        del res["feed"]
    return res


def evaluate_rf(
    rf, batches: Sequence[pd.DataFrame], origin_days: Sequence[int] = ORIGIN_DAYS
) -> dict:
    """Same metrics for the RF baseline (the prefix ending at every row of every batch)."""
    res: dict = {"titer": {"harvest_mape_by_day": {}, "harvest_r2_by_day": {}}}
    if rf.feed is not None:
        y_feed = np.concatenate([targets.next_feed(g, rf.feed) for g in batches])
        p_feed = rf.predict_table(pd.concat(batches))["feed_next_mL_h"].to_numpy(dtype=float)
        res["feed"] = {"r2": r2_score(y_feed, p_feed), "rmse": rmse(y_feed, p_feed)}
    for d in origin_days:
        pre = prefixes_at(batches, 24.0 * d)
        if not pre:
            continue
        full = {str(g[schema.BATCH_ID].iloc[0]): g for g in batches}
        ys = np.asarray(
            [targets.harvest_titer(full[str(p[schema.BATCH_ID].iloc[0])], rf.product) for p in pre]
        )
        ps = rf.predict(pre)["harvest_titer_mg_L"].to_numpy(dtype=float)
        res["titer"]["harvest_mape_by_day"][str(d)] = mape(ys, ps)
        res["titer"]["harvest_r2_by_day"][str(d)] = r2_score(ys, ps)
    return res


def noise_floor_mape(table: pd.DataFrame, batch_info: pd.DataFrame | None) -> float | None:
    """MAPE of the measured harvest titer against the noise-free one (simulator only).

    This is the error a perfect model would still show, because it is scored against a
    noisy assay.
    """
    if batch_info is None or "harvest_titer_true_mg_L" not in batch_info:
        return None
    true = batch_info.set_index(batch_info[schema.BATCH_ID].astype(str))["harvest_titer_true_mg_L"]
    meas = {str(b): targets.harvest_titer(g) for b, g in table.groupby(schema.BATCH_ID)}
    ids = [b for b in meas if b in true.index]
    if not ids:
        return None
    return mape(np.asarray([meas[b] for b in ids]), true.loc[ids].to_numpy(dtype=float))
