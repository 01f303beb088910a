"""RandomForest baseline: samples, search, learning a known relation, safe storage."""

from __future__ import annotations

import json
import os
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from forecaster import schema
from forecaster.data import targets
from forecaster.data.errors import ConfigError, RunFolderError
from forecaster.models.baseline import (
    FORMAT_VERSION,
    RFBaseline,
    RFConfig,
    default_variables,
    score_of,
)

FEED_PER_VCD = 2.5  # mL/h per 1e6 cells/mL: the relation the forest must learn
FAST = dict(n_estimators=[20], max_depth=[None], min_samples_leaf=[1], max_features=[1.0])


def make_table(n_batches: int, seed: int = 0, n_rows: int = 100) -> pd.DataFrame:
    """Synthetic batches: hourly rows, every canonical column, assays every 12 h.

    VCD grows exponentially at a batch-specific rate; the operator feeds
    ``FEED_PER_VCD * last VCD``; titer is a batch-specific productivity times the IVCD.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=float)
    assay = t % 12 == 0
    frames = []
    for b in range(n_batches):
        mu = rng.uniform(0.01, 0.04)
        vcd = 0.5 * np.exp(mu * t)
        last_vcd = vcd[np.maximum.accumulate(np.where(assay, np.arange(n_rows), 0))]
        ivcd = np.concatenate([[0.0], np.cumsum(0.5 * (vcd[1:] + vcd[:-1]))])
        df = pd.DataFrame({schema.BATCH_ID: f"B{seed}_{b:02d}", schema.TIME: t})
        for v in schema.VARIABLES:
            df[v.name] = 0.5 * (v.lo + min(v.hi, v.lo + 100.0)) + rng.normal(0, 0.5, n_rows)
        df["feed_glucose_g_L"] = 400.0
        df[schema.FEED] = FEED_PER_VCD * last_vcd
        df["volume_L"] = 2.0 + np.concatenate([[0.0], np.cumsum(df[schema.FEED][:-1])]) / 1e3
        df["vcd_1e6_cells_mL"] = vcd
        df[schema.TITER] = rng.uniform(0.5, 1.5) * ivcd
        for v in schema.OFFLINE:
            df[v] = np.where(assay, df[v], np.nan)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return {"train": make_table(16, seed=1), "val": make_table(3, seed=2), "test": make_table(4, 3)}


@pytest.fixture(scope="module")
def fitted(data) -> RFBaseline:
    cfg = RFConfig(**FAST, n_jobs=1)
    return RFBaseline(cfg, default_variables(data["train"]), seed=0).fit(data["train"], data["val"])


def prefixes_of(table: pd.DataFrame, every: int = 1) -> list[pd.DataFrame]:
    out = []
    for _, rows in table.groupby(schema.BATCH_ID):
        out += [rows.iloc[: k + 1] for k in range(0, len(rows), every)]
    return out


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    return 1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)


def test_samples_follow_stride_and_targets(data):
    rf = RFBaseline(RFConfig(stride_h=6.0), default_variables(data["train"]))
    s = rf.samples(data["train"])
    assert s["X"].shape == (16 * 17, len(rf.feature_names))  # origins 0, 6, ..., 96 h
    one = data["train"][data["train"][schema.BATCH_ID] == "B1_03"]
    mine = s["batch_id"] == "B1_03"
    assert s["origin_h"][mine].tolist() == list(np.arange(0.0, 97.0, 6.0))
    np.testing.assert_array_equal(s["feed"][mine], targets.next_feed(one)[::6])
    assert (s["titer"][mine] == targets.harvest_titer(one)).all()
    assert schema.FEED not in rf.feature_variables  # the feed target is not an input


def test_learns_feed_from_last_vcd(fitted, data):
    """feed(t + 1) = k * last VCD: R2 > 0.9 at every time step of held-out batches."""
    prefixes = prefixes_of(data["test"])
    pred = fitted.predict(prefixes)
    y = np.concatenate([targets.next_feed(r) for _, r in data["test"].groupby(schema.BATCH_ID)])
    ok = np.isfinite(y)
    assert r2(y[ok], pred["feed_next_mL_h"].to_numpy()[ok]) > 0.9
    cols = [schema.BATCH_ID, "origin_h", "feed_next_mL_h", "harvest_titer_mg_L"]
    assert list(pred.columns) == cols
    assert pred["origin_h"].tolist() == [p[schema.TIME].iloc[-1] for p in prefixes]
    assert pred[schema.BATCH_ID].iloc[0] == "B3_00"
    # the one-pass path over whole batches gives the same numbers as prefix by prefix
    pd.testing.assert_frame_equal(fitted.predict_table(data["test"]), pred)


def test_search_picks_the_better_setting(data):
    """A depth-1 stump cannot follow feed = k * VCD; the search must prefer full depth."""
    for order in ([1, None], [None, 1]):
        cfg = RFConfig(**{**FAST, "max_depth": order}, n_jobs=1)
        rf = RFBaseline(cfg, default_variables(data["train"])).fit(data["train"], data["val"])
        feed = [r for r in rf.search_results if r["target"] == "feed"]
        assert len(feed) == 2 and [r["max_depth"] for r in feed] == order
        best = [r for r in feed if r["best"]]
        assert len(best) == 1 and best[0]["max_depth"] is None
        assert best[0]["score"] < min(r["score"] for r in feed if not r["best"])
        assert rf.models["feed"].max_depth is None
        assert {r["metric"] for r in rf.search_results} == {"rmse_mL_h", "mape_pct"}


def test_fit_is_deterministic_and_subsamples(data):
    cfg = RFConfig(**FAST, n_jobs=1, max_train_samples=40)
    a = RFBaseline(cfg, default_variables(data["train"]), seed=5).fit(data["train"], data["val"])
    b = RFBaseline(cfg, default_variables(data["train"]), seed=5).fit(data["train"], data["val"])
    assert all(r["n_train"] == 40 for r in a.search_results)
    X = a.samples(data["test"])["X"]
    for key in ("feed", "titer"):
        np.testing.assert_array_equal(a.predict_matrix(key, X), b.predict_matrix(key, X))


def test_save_load_round_trip(fitted, data, tmp_path):
    fitted.save(tmp_path / "rf")
    assert sorted(p.name for p in (tmp_path / "rf").iterdir()) == ["model.pt"]
    doc = torch.load(tmp_path / "rf" / "model.pt", weights_only=True)  # tensors, no classes
    assert (doc["kind"], doc["format_version"]) == ("rf-baseline", FORMAT_VERSION)
    loaded = RFBaseline.load(tmp_path / "rf")
    prefixes = prefixes_of(data["test"], every=7)
    pd.testing.assert_frame_equal(loaded.predict(prefixes), fitted.predict(prefixes))
    X = fitted.samples(data["test"], stride_h=0)["X"]
    for key in ("feed", "titer"):  # bit for bit, and the same impurity importances
        np.testing.assert_array_equal(loaded.predict_matrix(key, X), fitted.predict_matrix(key, X))
        np.testing.assert_array_equal(
            loaded.models[key].feature_importances_, fitted.models[key].feature_importances_
        )
    assert loaded.search_results == fitted.search_results
    assert loaded.feature_variables == fitted.feature_variables
    assert loaded.variables == fitted.variables and loaded.stride_h == fitted.stride_h
    assert loaded.models["feed"].max_depth == fitted.models["feed"].max_depth


class _Payload:
    """Creates ``marker`` when unpickled: what a malicious model file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_version_1_pickle_folder_is_refused_unread(fitted, tmp_path):
    """An old (or planted) joblib pickle is never unpickled: one line, "train again"."""
    marker = tmp_path / "payload_ran"
    folder = tmp_path / "rf"
    folder.mkdir()
    joblib.dump({"feed": _Payload(marker)}, folder / "model.pkl")
    (folder / "rf.json").write_text(json.dumps({"format_version": 1, "sha256": "x"}))
    with pytest.raises(RunFolderError, match="format version 1.*train again") as err:
        RFBaseline.load(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_planted_payload_in_model_file_is_not_executed(fitted, tmp_path, writer):
    marker = tmp_path / "payload_ran"
    fitted.save(tmp_path / "rf")
    path = tmp_path / "rf" / "model.pt"
    doc = {"kind": "rf-baseline", "format_version": FORMAT_VERSION, "forests": _Payload(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(doc))
    else:
        torch.save(doc, path)
    with pytest.raises(RunFolderError, match="cannot be read") as err:
        RFBaseline.load(tmp_path / "rf")
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_missing_model_and_bad_config(tmp_path):
    with pytest.raises(RunFolderError, match="model.pt not found"):
        RFBaseline.load(tmp_path)
    with pytest.raises(ConfigError, match="stride_h"):
        RFConfig(stride_h=0.0)
    with pytest.raises(ConfigError, match="max_depth"):
        RFConfig(max_depth=[])


def test_scores():
    y = np.array([100.0, 200.0])
    assert score_of("titer", y, np.array([110.0, 180.0])) == pytest.approx(10.0)  # MAPE %
    assert score_of("feed", y, np.array([103.0, 204.0])) == pytest.approx(np.sqrt(12.5))
