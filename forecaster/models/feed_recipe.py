"""Does the feed follow a recipe or the culture? A cross-validated test by batch.

Many plants feed a fixed schedule: so many mL at each hour whatever the culture does. Then
nothing state-dependent can be learned about the feed, and an R² of a feed model is noise,
not a result. :func:`feed_follows_recipe` compares, on folds by batch, two predictors of the
feed rate at each row:

- **recipe**: the median feed of the training batches at the same time since inoculation
  (a schedule that depends on time only);
- **state**: a RandomForest on time plus the culture state measured so far (online signals,
  the last value of every assay).

When the state adds less than ``margin`` of cross-validated R² over the schedule, the feed
follows a recipe: the report says so instead of giving an R², and the recommendation is the
recipe's next value (:meth:`FeedRecipe.next_value`).

Example::

    verdict = feed_follows_recipe(table, "feed_rate_mL_h", ["glucose_g_L", "volume_L"])
    print(verdict.sentence("Feed rate (mL/h)"))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from forecaster.data.folds import kfold_batches

__all__ = ["FeedRecipe", "feed_follows_recipe"]

BATCH, TIME = "batch_id", "time_h"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeedRecipe:
    """The verdict, its evidence and the median schedule.

    Attributes:
        is_recipe: the feed is explained by time alone (a recipe / fixed schedule).
        r2_recipe: cross-validated R² of the time-only schedule (folds by batch).
        r2_state: cross-validated R² of the culture-state model.
        margin: the R² the state had to add to count as state-dependent.
        n_batches: batches the test rests on.
        grid_h: times of the median schedule (h), ``(G,)``.
        profile: median feed of all batches at ``grid_h`` (the feed's unit), ``(G,)``.
    """

    is_recipe: bool
    r2_recipe: float
    r2_state: float
    margin: float
    n_batches: int
    grid_h: tuple[float, ...] = field(repr=False)
    profile: tuple[float, ...] = field(repr=False)

    def next_value(self, time_h: float) -> float:
        """The recipe's feed at ``time_h`` (h since inoculation; held at the ends)."""
        return float(np.interp(time_h, self.grid_h, self.profile))

    def to_dict(self) -> dict:
        """Plain values with a format version (``forecast/feed_recipe.json`` of a run)."""
        return {"kind": "feed_recipe", "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> FeedRecipe:
        """Inverse of :meth:`to_dict`; raises ValueError on another kind or version."""
        if data.get("kind") != "feed_recipe" or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"not a feed-recipe file of format {FORMAT_VERSION} "
                f"(kind {data.get('kind')!r}, format {data.get('format_version')!r})"
            )
        d = {k: data[k] for k in ("is_recipe", "r2_recipe", "r2_state", "margin", "n_batches")}
        return cls(**d, grid_h=tuple(map(float, data["grid_h"])),
                   profile=tuple(map(float, data["profile"])))  # fmt: skip

    def summary(self) -> dict:
        """Plain values for ``metrics.json`` (no schedule arrays)."""
        d = asdict(self)
        d.pop("grid_h"), d.pop("profile")
        return d

    def sentence(self, feed_label: str = "the feed") -> str:
        """One line for the report."""
        if self.is_recipe:
            return (
                f"{feed_label} follows a recipe: a schedule by time alone explains it "
                f"(cross-validated R² {self.r2_recipe:.2f}) as well as the culture state does "
                f"({self.r2_state:.2f}), so there is nothing state-dependent to learn; the "
                "recommendation is the recipe's next value"
            )
        return (
            f"{feed_label} responds to the culture: the state explains it (cross-validated R² "
            f"{self.r2_state:.2f}) better than a schedule by time ({self.r2_recipe:.2f})"
        )


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return float("nan") if ss <= 0 else 1.0 - float(np.sum((y - p) ** 2)) / ss


def _median_profile(t: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Median of ``y`` in bins around ``grid`` times, NaN bins filled from neighbours."""
    edges = np.concatenate([[-np.inf], (grid[1:] + grid[:-1]) / 2, [np.inf]])
    idx = np.searchsorted(edges, t, side="right") - 1
    out = np.full(len(grid), np.nan)
    for g in np.unique(idx):
        out[g] = np.median(y[idx == g])
    ok = np.isfinite(out)
    if not ok.any():
        return np.zeros(len(grid))
    return np.interp(grid, grid[ok], out[ok])


def _state_matrix(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Time plus each state column carried forward within its batch (assays are sparse)."""
    filled = table.groupby(BATCH, sort=False)[list(columns)].ffill() if columns else None
    parts = [table[TIME].to_numpy(dtype=float)[:, None]]
    if filled is not None:
        parts.append(filled.to_numpy(dtype=float))
    x = np.hstack(parts)
    return np.where(np.isfinite(x), x, -1.0)  # before the first assay: a value no assay has


def feed_follows_recipe(
    table: pd.DataFrame,
    feed: str,
    state_columns: Sequence[str],
    k: int = 5,
    seed: int = 0,
    margin: float = 0.05,
    max_rows: int = 20_000,
) -> FeedRecipe:
    """Cross-validated test: is ``feed`` a schedule by time, or a response to the culture?

    Args:
        table: batch table, long (``batch_id``, ``time_h``, ``feed`` and ``state_columns``).
        feed: the feed column (the process's primary feed).
        state_columns: culture-state columns (online signals and assays, not the feed).
        k: folds by batch (fewer when there are fewer batches; at least 2).
        seed: seed of the folds, the row subsample and the forest.
        margin: R² the state must add over the schedule to count as state-dependent.
        max_rows: rows used at most (a seeded subsample keeps the test to seconds).

    Returns:
        The verdict; with fewer than 4 batches, or a constant feed, ``is_recipe`` is True
        when the feed is constant and the R² figures are NaN.
    """
    from sklearn.ensemble import RandomForestRegressor

    cols = [c for c in state_columns if c in table.columns and c != feed]
    rows = table[[BATCH, TIME, feed, *cols]].copy()
    rows[BATCH] = rows[BATCH].astype(str)
    rows = rows.sort_values([BATCH, TIME], kind="stable")
    x_all = _state_matrix(rows, cols)
    y_all = rows[feed].to_numpy(dtype=float)
    keep = np.isfinite(y_all)
    rows, x_all, y_all = rows[keep], x_all[keep], y_all[keep]
    t_all = rows[TIME].to_numpy(dtype=float)
    ids = rows[BATCH].to_numpy()
    batches = sorted(set(ids))
    grid = np.unique(np.round(t_all, 3)) if len(t_all) else np.zeros(1)
    if len(grid) > 400:
        grid = np.linspace(grid[0], grid[-1], 400)
    profile = _median_profile(t_all, y_all, grid) if len(t_all) else np.zeros(len(grid))
    constant = len(y_all) == 0 or float(np.nanstd(y_all)) == 0.0
    if constant or len(batches) < 4:
        return FeedRecipe(constant, float("nan"), float("nan"), margin, len(batches),
                          tuple(map(float, grid)), tuple(map(float, profile)))  # fmt: skip
    rng = np.random.default_rng(seed)
    if len(y_all) > max_rows:
        pick = np.sort(rng.choice(len(y_all), max_rows, replace=False))
        x_all, y_all, t_all, ids = x_all[pick], y_all[pick], t_all[pick], ids[pick]
    p_recipe = np.empty_like(y_all)
    p_state = np.empty_like(y_all)
    for train_ids, val_ids in kfold_batches(batches, min(k, len(batches)), seed=seed):
        tr, va = np.isin(ids, train_ids), np.isin(ids, val_ids)
        p_recipe[va] = np.interp(t_all[va], grid, _median_profile(t_all[tr], y_all[tr], grid))
        forest = RandomForestRegressor(
            n_estimators=60, min_samples_leaf=5, max_features=0.5, n_jobs=1, random_state=seed
        )
        forest.fit(x_all[tr], y_all[tr])
        p_state[va] = forest.predict(x_all[va])
    r2_recipe, r2_state = _r2(y_all, p_recipe), _r2(y_all, p_state)
    is_recipe = bool(r2_state - r2_recipe < margin)
    return FeedRecipe(is_recipe, r2_recipe, r2_state, margin, len(batches),
                      tuple(map(float, grid)), tuple(map(float, profile)))  # fmt: skip
