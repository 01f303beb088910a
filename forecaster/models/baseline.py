"""RandomForest baseline: engineered prefix features -> next feed rate and harvest titer.

Same splits, same prefixes and the same fit/predict shape as the sequence model, so both
land in the same metric tables. Training samples are prefixes ending every ``stride_h``
hours of each training batch; each target gets its own ``RandomForestRegressor``, chosen by
a small grid search on the validation batches (feed: RMSE in mL/h; titer: MAPE in %).
Targets come from :mod:`forecaster.data.targets`. Features: :mod:`.tabular_features`.
Storage: ``model.pt`` through :func:`forecaster.state.save_state` (kind ``"rf-baseline"``,
:data:`FORMAT_VERSION`), the forests as plain arrays of their trees (:mod:`.rf_store`):
nothing executes on load. Format version 1 (a joblib pickle, ``model.pkl`` + ``rf.json``)
is refused with one line, never unpickled.
"""

from __future__ import annotations

import itertools
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from forecaster import schema
from forecaster.data import targets
from forecaster.data.errors import ConfigError, MissingColumnError, RunFolderError, ShortBatchError
from forecaster.models import rf_store
from forecaster.models.tabular_features import TabularFeatures, sort_rows
from forecaster.state import load_state, save_state

KIND = "rf-baseline"
FORMAT_VERSION = 2
MODEL_FILE = "model.pt"
#: files of format version 1 (a pickle and its metadata): refused, never unpickled
LEGACY_FILES = ("model.pkl", "rf.json")

#: Model key -> output column of :meth:`RFBaseline.predict`.
OUTPUTS: dict[str, str] = {"feed": "feed_next_mL_h", "titer": "harvest_titer_mg_L"}
#: Model key -> validation score minimised by the search.
METRICS: dict[str, str] = {"feed": "rmse_mL_h", "titer": "mape_pct"}


@dataclass
class RFConfig:
    """RandomForest baseline settings; every list is one axis of the validation grid.

    Attributes:
        enabled: whether the training run fits the baseline.
        n_estimators, max_depth, min_samples_leaf, max_features: grid of
            ``RandomForestRegressor`` settings (all combinations are tried per target).
        stride_h: hours between prefix origins in each training / validation batch.
        n_jobs: worker processes of each forest.
        max_train_samples: cap on training samples per target (random subset, seeded);
            None keeps all.
    """

    enabled: bool = True
    n_estimators: list[int] = field(default_factory=lambda: [150])
    max_depth: list[int | None] = field(default_factory=lambda: [None])
    min_samples_leaf: list[int] = field(default_factory=lambda: [2, 8])
    max_features: list[float | str] = field(default_factory=lambda: [0.33])
    stride_h: float = 6.0
    n_jobs: int = 2
    max_train_samples: int | None = 50000

    def __post_init__(self) -> None:
        for name in ("n_estimators", "max_depth", "min_samples_leaf", "max_features"):
            if not list(getattr(self, name)):
                raise ConfigError(f"rf.{name} is empty", expected="at least one value")
        if not self.stride_h > 0:
            raise ConfigError(f"rf.stride_h = {self.stride_h}", expected="> 0 hours")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ConfigError(f"rf.max_train_samples = {self.max_train_samples}", expected=">= 1")

    def grid(self) -> list[dict]:
        """Every combination of the grid lists, as ``RandomForestRegressor`` kwargs."""
        keys = ("n_estimators", "max_depth", "min_samples_leaf", "max_features")
        return [dict(zip(keys, c)) for c in itertools.product(*(getattr(self, k) for k in keys))]


class RFBaseline:
    """Per-target RandomForests on engineered prefix features.

    Args:
        cfg: search settings; None for a loaded baseline (it keeps what predicting needs).
        variables: canonical input variables.
        seed: random state of the forests and of the sample cap.
        stride_h: hours between prefix origins of :meth:`samples` (default ``cfg.stride_h``).
        roles: role of each input (the fitted preprocessing's; None: the CHO schema's).
        product, feed: the process's product and feed (None: no feed, no feed forest).

    Attributes:
        feature_names: the P feature names; ``feature_variables``: the canonical variable
            (or ``time_h``) behind each.
        models: fitted forests, keys ``"feed"`` and ``"titer"``.
        search_results: one dict per (target, grid point): settings, validation score,
            fit seconds, sample counts and ``best``.
    """

    def __init__(
        self,
        cfg: RFConfig | None,
        variables: Sequence[str],
        seed: int = 0,
        stride_h: float | None = None,
        roles: Mapping[str, str] | None = None,
        product: str = schema.TITER,
        feed: str | None = schema.FEED,
    ) -> None:
        if cfg is None and stride_h is None:
            raise ValueError("RFBaseline needs a cfg or a stride_h")
        self.cfg = cfg
        self.stride_h = float(stride_h if stride_h is not None else cfg.stride_h)
        self.variables = [str(v) for v in variables]
        self.seed = int(seed)
        self.product, self.feed = str(product), None if feed is None else str(feed)
        self.tab = TabularFeatures(
            tuple(self.variables), roles=tuple((roles or {}).items()), feed=self.feed
        )
        #: model key -> output column, for the targets this process has
        self.outputs = {k: c for k, c in OUTPUTS.items() if k != "feed" or self.feed is not None}
        self.feature_names: list[str] = self.tab.feature_names
        self.feature_variables: list[str] = self.tab.feature_variables
        self.models: dict[str, RandomForestRegressor] = {}
        self.search_results: list[dict] = []

    # ---------------------------------------------------------------- samples
    def samples(self, table: pd.DataFrame, stride_h: float | None = None) -> dict[str, np.ndarray]:
        """Prefix origins every ``stride_h`` hours (default ``cfg.stride_h``; 0 = every row)
        in each batch of ``table``, with their features and targets.

        Returns:
            ``X (N, P)``, ``feed (N,)`` next feed rate (mL/h, NaN at a batch's last row),
            ``titer (N,)`` harvest titer of the origin's batch (mg/L, meaningful for complete
            batches), ``batch_id (N,)``, ``origin_h (N,)``. A target whose column is absent
            is NaN.
        """
        stride = self.stride_h if stride_h is None else float(stride_h)
        for c in (schema.BATCH_ID, schema.TIME):
            if c not in table.columns:
                raise MissingColumnError(c, available=table.columns, hint="needed by the RF")
        parts: dict[str, list] = {k: [] for k in ("X", "feed", "titer", "batch_id", "origin_h")}
        for bid, rows in table.groupby(schema.BATCH_ID, sort=True):
            rows = sort_rows(rows)
            t = rows[schema.TIME].to_numpy(dtype=float)
            if stride > 0:
                grid = np.arange(t[0], t[-1] + 1e-9, stride)
                idx = np.unique(np.searchsorted(t, grid + 1e-9, side="right") - 1)
            else:
                idx = np.arange(len(t))
            feed = targets.next_feed(rows, self.feed)
            titer = targets.harvest_titer(rows, self.product) if self.product in rows else np.nan
            parts["X"].append(self.tab.at_rows(rows, idx))
            parts["feed"].append(feed[idx])
            parts["titer"].append(np.full(idx.size, titer))
            parts["batch_id"].append(np.full(idx.size, str(bid), dtype=object))
            parts["origin_h"].append(t[idx])
        if not parts["X"]:
            return {
                "X": np.zeros((0, self.tab.n_features)),
                **{k: np.zeros(0) for k in ("feed", "titer", "origin_h")},
                "batch_id": np.zeros(0, dtype=object),
            }
        return {k: np.concatenate(v) for k, v in parts.items()}

    # -------------------------------------------------------------------- fit
    def fit(self, train: pd.DataFrame, val: pd.DataFrame) -> RFBaseline:
        """Grid-search each target's forest on ``val``; keep the best one fitted on ``train``.

        Args:
            train: batch table of the training batches (complete batches).
            val: batch table of the validation batches.
        """
        if self.cfg is None:
            raise RuntimeError("a loaded RFBaseline keeps no search settings; build one to fit")
        for c in (self.feed, self.product) if self.feed else (self.product,):
            if c not in train.columns:
                raise MissingColumnError(c, available=train.columns, hint="an RF target")
        tr, va = self.samples(train), self.samples(val)
        self.models, self.search_results = {}, []
        for key in self.outputs:  # "feed", "titer": also the target keys of samples()
            ok = np.isfinite(tr[key])
            x_tr, y_tr = tr["X"][ok], tr[key][ok]
            if len(y_tr) == 0:
                raise ShortBatchError(f"no training prefix has a {key} target")
            if self.cfg.max_train_samples is not None and len(y_tr) > self.cfg.max_train_samples:
                rng = np.random.default_rng(self.seed)
                keep = np.sort(rng.choice(len(y_tr), self.cfg.max_train_samples, replace=False))
                x_tr, y_tr = x_tr[keep], y_tr[keep]
            ok_va = np.isfinite(va[key])
            self.models[key] = self._search(key, x_tr, y_tr, va["X"][ok_va], va[key][ok_va])
        return self

    def _search(
        self, key: str, x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray
    ) -> RandomForestRegressor:
        grid = self.cfg.grid()
        if len(y_va) == 0:
            warnings.warn(
                f"RF baseline: no validation samples for {key}; using the first grid point "
                f"{grid[0]} without a search",
                stacklevel=3,
            )
            grid = grid[:1]
        best, best_score, rows = None, np.inf, []
        for params in grid:
            t0 = time.perf_counter()
            rf = RandomForestRegressor(**params, n_jobs=self.cfg.n_jobs, random_state=self.seed)
            rf.fit(x_tr, y_tr)
            fit_s = time.perf_counter() - t0
            score = score_of(key, y_va, rf.predict(x_va)) if len(y_va) else float("nan")
            rows.append(
                {
                    "target": key,
                    **params,
                    "metric": METRICS[key],
                    "score": score,
                    "fit_s": round(fit_s, 3),
                    "n_train": len(y_tr),
                    "n_val": len(y_va),
                    "best": False,
                }
            )
            # strict "<": ties keep the earlier (listed first, usually simpler) setting
            if best is None or score < best_score:
                best, best_score, best_row = rf, score, rows[-1]
        best_row["best"] = True
        self.search_results += rows
        return best

    # ---------------------------------------------------------------- predict
    def features(self, prefixes: Sequence[pd.DataFrame]) -> np.ndarray:
        """``(N, P)`` engineered features of each prefix at its last row."""
        return self.tab.of_prefixes(prefixes)

    def predict_matrix(self, target: str, X: np.ndarray) -> np.ndarray:
        """``(N,)`` predictions of one target's forest from a feature matrix ``(N, P)``."""
        if target not in self.models:
            raise KeyError(f"no fitted RF for target {target!r}; have {sorted(self.models)}")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"X has shape {X.shape}; expected (N, {len(self.feature_names)})")
        # Trees averaged in a fixed order: sklearn's threaded accumulation adds them in
        # whatever order threads finish, which changes the last bits between identical runs.
        forest = self.models[target]
        X32 = X.astype(np.float32)
        return np.mean(
            [tree.predict(X32, check_input=False) for tree in forest.estimators_], axis=0
        )

    def predict(self, prefixes: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """One row per prefix: ``batch_id``, ``origin_h`` (last ``time_h``),
        ``feed_next_mL_h`` and ``harvest_titer_mg_L``."""
        X = self.features(prefixes)
        out = pd.DataFrame(
            {
                schema.BATCH_ID: [_batch_id(p) for p in prefixes],
                "origin_h": X[:, self.feature_names.index(schema.TIME)],
            }
        )
        for key, col in OUTPUTS.items():
            out[col] = self._predicted(key, X)
        return out

    def _predicted(self, key: str, X: np.ndarray) -> np.ndarray:
        """One target's predictions; NaN for a target the process lacks (no feed)."""
        if key not in self.outputs:
            return np.full(len(X), np.nan)
        return self.predict_matrix(key, X) if len(X) else np.zeros(0)

    def predict_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """Like :meth:`predict` for the prefix ending at every row of every batch in
        ``table``, built in one pass per batch (fast for whole test batches)."""
        s = self.samples(table, stride_h=0)
        out = pd.DataFrame({schema.BATCH_ID: s["batch_id"].astype(str), "origin_h": s["origin_h"]})
        for key, col in OUTPUTS.items():
            out[col] = self._predicted(key, s["X"])
        return out

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain values and tensors (format version 2): what predicting needs."""
        if set(self.models) != set(self.outputs):
            raise RuntimeError("RFBaseline: fit the baseline first")
        return {
            "variables": list(self.variables),
            "roles": dict(self.tab.roles),
            "product": self.product,
            "feed": self.feed,
            "seed": self.seed,
            "stride_h": self.stride_h,
            "feature_names": list(self.feature_names),
            "feature_variables": list(self.feature_variables),
            # via JSON: plain Python values only (a NaN score stays NaN)
            "search_results": json.loads(json.dumps(self.search_results)),
            "forests": {k: rf_store.forest_state(m) for k, m in self.models.items()},
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> RFBaseline:
        """Inverse of :meth:`state_dict`.

        Raises:
            RunFolderError: the stored features differ from what this version builds.
        """
        # states saved before roles / product / feed were recorded come from CHO runs
        model = cls(None, state["variables"], seed=state["seed"], stride_h=state["stride_h"],
                    roles=state.get("roles"), product=state.get("product", schema.TITER),
                    feed=state.get("feed", schema.FEED))  # fmt: skip
        if model.feature_names != list(state["feature_names"]):
            raise RunFolderError(
                "the stored RF was trained on other features than this version builds",
                expected=f"feature_names {model.feature_names}",
            )
        model.models = {k: rf_store.forest_from_state(v) for k, v in state["forests"].items()}
        model.search_results = list(state["search_results"])
        return model

    def save(self, directory: str | Path) -> Path:
        """Write ``model.pt`` into ``directory`` (created if needed); returns its path."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        return save_state(Path(directory) / MODEL_FILE, KIND, FORMAT_VERSION, self.state_dict())

    @classmethod
    def load(cls, directory: str | Path) -> RFBaseline:
        """The one loader of a saved baseline (library and command line).

        Raises:
            RunFolderError: no ``model.pt``; a format-version-1 folder (a pickle: refused
                unread, "train again"); an unreadable, foreign or tampered file (nothing in it
                is executed: ``torch.load(weights_only=True)``).
        """
        directory = Path(directory)
        path = directory / MODEL_FILE
        if not path.exists() and any((directory / f).exists() for f in LEGACY_FILES):
            raise RunFolderError(
                f"RF baseline format version 1 (a pickle) is no longer loaded, it could run "
                f"code; this version reads format version {FORMAT_VERSION}: train again",
                file=str(directory),
            )
        state = load_state(path, KIND, FORMAT_VERSION)  # version 1 was a pickle: no migration
        try:
            return cls.from_state_dict(state)
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            raise RunFolderError(
                f"cannot rebuild the RF baseline ({type(e).__name__}: {e}); train again",
                file=str(path),
            ) from None


def score_of(key: str, y: np.ndarray, pred: np.ndarray) -> float:
    """Validation score of one target: RMSE (feed, mL/h) or MAPE in % (titer)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    if key == "feed":
        return float(np.sqrt(np.mean((pred - y) ** 2)))
    return float(100.0 * np.mean(np.abs(pred - y) / np.maximum(np.abs(y), 1e-9)))


def default_variables(table: pd.DataFrame) -> list[str]:
    """Schema variables present in ``table`` with any value, except the feed-rate target
    (same rule as ``sequence.input_variables(table, exclude=[FEED])``)."""
    return [
        v
        for v in schema.VARIABLE_NAMES
        if v in table.columns and v != schema.FEED and table[v].notna().any()
    ]


def _batch_id(prefix: pd.DataFrame) -> str | None:
    return str(prefix[schema.BATCH_ID].iloc[0]) if schema.BATCH_ID in prefix else None
