"""The explain stage on tiny data: metrics keys, files, figures, report; disabled switch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.explain.config import ExplainConfig
from forecaster.explain.explainer import load_baseline
from forecaster.explain.result import AttributionResult
from forecaster.models.baseline import RFBaseline, RFConfig
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.explain_stage import run_explain_stage

from .conftest import VARIABLES, tiny_table


class FigureLog:
    def __init__(self) -> None:
        self.tags: list[str] = []

    def add_figure(self, tag, fig, close=True) -> None:
        self.tags.append(tag)


def make_ctx(tmp_path, gru_model, prep, cfg: ExplainConfig, table=None, sim=None) -> RunContext:
    table = tiny_table(n_batches=8, n_days=4, seed=5) if table is None else table
    ids = sorted(table[schema.BATCH_ID].unique())
    splits = {"train": ids[:4], "val": ids[4:6], "test": ids[6:]}
    rf_cfg = RFConfig(
        n_estimators=[5], max_depth=[3], min_samples_leaf=[1], max_features=[1.0], n_jobs=1
    )
    train = table[table[schema.BATCH_ID].isin(splits["train"])]
    val = table[table[schema.BATCH_ID].isin(splits["val"])]
    rf = RFBaseline(rf_cfg, VARIABLES, seed=0).fit(train, val)
    return RunContext(
        cfg=SimpleNamespace(explain=cfg),
        run_dir=tmp_path,
        table=table,
        faults=pd.DataFrame(columns=list(schema.FAULT_TABLE_COLUMNS)),
        splits=splits,
        prep=prep,
        seed=0,
        writer=FigureLog(),
        sim=sim,
        forecaster=gru_model,
        rf=rf,
    )


def test_stage_writes_metrics_files_figures_and_report(tmp_path, gru_model, prep):
    cfg = ExplainConfig(
        feed_origin_days=[1.0, 2.5], titer_origin_days=[2.0], ig_steps=8, randomisation_batches=2
    )
    ctx = make_ctx(tmp_path, gru_model, prep, cfg)
    m = run_explain_stage(ctx)
    assert m["n_batches"] == 2 and m["n_predictions"] == 2 * (2 + 1)
    assert 0 <= m["ig_completeness_rel_error"] < 0.05
    assert m["randomisation_similarity"] < m["randomisation_self_similarity"]
    assert m["truth_note"].startswith("no ground truth")
    for target in ("feed", "titer"):
        assert set(m[target]) >= {"ig", "ablation", "rf_impurity", "rf_permutation"}
        assert len(m[target]["ig"]["top3"]) == 3
        tab = pd.read_csv(tmp_path / "explain" / f"global_importance_{target}.csv", index_col=0)
        assert list(tab.columns) == ["ig", "ablation", "rf_impurity", "rf_permutation"]
        assert tab.sum().round(6).tolist() == [1.0] * 4
        assert (tmp_path / "figures" / f"attr_global_{target}.png").stat().st_size > 1000
        assert (tmp_path / "figures" / f"attr_heatmap_{target}.png").exists()
    maps = pd.read_parquet(tmp_path / "explain" / "attributions.parquet")
    assert set(maps["method"]) == {"ig", "ablation"} and set(maps["variable"]) == set(
        prep.feature_variables
    )
    shares = pd.read_parquet(tmp_path / "explain" / "shares.parquet")
    assert len(shares) == 2 * m["n_predictions"]
    summary = json.loads((tmp_path / "explain" / "summary.json").read_text())
    assert summary["feed"]["ig"]["top3"] == m["feed"]["ig"]["top3"]
    assert "explain/attr_global_feed" in ctx.writer.tags
    base = load_baseline(tmp_path)  # default: one mean row per hour since inoculation
    assert base.ndim == 2 and base.shape[1] == prep.n_features and len(base) >= 90
    report = "\n".join(ctx.report)
    assert "](figures/attr_global_feed.png)" in report and "completeness" in report


def test_stage_scores_every_method_against_the_simulator_truth(tmp_path):
    from forecaster.data.features import Preprocessor
    from forecaster.models.nets import ForecastNet

    from .conftest import TinyModel
    from .test_ground_truth import short_cfg

    sim = short_cfg()
    table = simulate_table(sim)
    prep = Preprocessor.fit(table, VARIABLES + ["volume_L", "feed_glucose_g_L"])
    net = ForecastNet(prep.n_features, n_days=5, hidden_size=8, num_layers=1, dropout=0.0)
    cfg = ExplainConfig(
        feed_origin_days=[3.0],
        titer_origin_days=[2.0],
        ig_steps=4,
        truth_batches=3,
        randomisation_batches=0,
    )
    m = run_explain_stage(make_ctx(tmp_path, TinyModel(net, prep), prep, cfg, table, sim))
    for target in ("feed", "titer"):
        for method in ("ig", "ablation", "rf_impurity", "rf_permutation"):
            assert {"spearman_vs_truth", "top3_precision"} <= set(m[target][method])
    assert set(m["feed"]["truth"]["true_set"]) == {
        "glucose_g_L",
        "vcd_1e6_cells_mL",
        "volume_L",
        "feed_glucose_g_L",
    }
    assert m["feed"]["truth"]["max_spearman_all_variables"] < 1.0
    # the truth is ranked on the explained decisions only (day 3 of the test batches), for
    # the default time-matched baseline by same-hour shuffles; the all-ages one beside it
    assert "taken at the same hour" in m["feed"]["truth"]["definition"]
    assert set(m["feed"]["truth"]["ranking_all_ages"]) == set(m["feed"]["truth"]["ranking"])
    from forecaster.explain.agreement import spearman_vs_truth

    feed_tab = pd.read_csv(tmp_path / "explain" / "global_importance_feed.csv", index_col=0)
    ranked = m["feed"]["truth"]["ranked"]
    other_truth = pd.Series(m["feed"]["truth"]["ranking_all_ages"]).reindex(ranked)
    for method in ("ig", "ablation"):
        # scored over the policy inputs, like spearman_vs_truth (not over all variables)
        want = spearman_vs_truth(feed_tab[method].dropna(), other_truth)
        got = m["feed"][method]["spearman_vs_truth_all_ages"]
        assert got == (None if np.isnan(want) else pytest.approx(want))
    tab = pd.read_csv(tmp_path / "explain" / "global_importance_titer.csv", index_col=0)
    assert tab["truth"].dropna().sum() == pytest.approx(1.0)
    assert "randomisation_similarity" not in m


def simulate_table(sim) -> pd.DataFrame:
    from forecaster.sim import simulate

    return simulate(sim, n_batches=8, seed=0).table


def test_stage_disabled_does_nothing(tmp_path, gru_model, prep):
    ctx = make_ctx(tmp_path, gru_model, prep, ExplainConfig(enabled=False))
    assert run_explain_stage(ctx) == {"enabled": False}
    assert not (tmp_path / "explain").exists() and ctx.report == []


def test_result_round_trips_through_dict(gru_model, table):
    from forecaster.explain.explainer import explain_batches

    from .conftest import batches_of

    (r,) = explain_batches(gru_model, batches_of(table)[:1], "titer", "ig")
    back = AttributionResult.from_dict(json.loads(json.dumps(r.to_dict())))
    pd.testing.assert_series_equal(back.variable_shares(), r.variable_shares())
    assert back.top(2) == r.top(2) and back.origin_h == r.origin_h
    assert r.day_shares().sum() == pytest.approx(1.0)
    assert list(r.day_shares().index) == [0, 1, 2, 3, 4]


def test_config_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown"):
        ExplainConfig(methods=["ig", "lime"])
    assert ExplainConfig(methods=["ablation"]).methods == ["ig", "ablation"]


def test_attribution_device_follows_the_run_unless_set():
    import torch

    from forecaster.pipeline.explain_stage import attribution_device

    gpu = torch.cuda.is_available()
    assert attribution_device("cpu", "gpu").type == "cpu"
    assert attribution_device("auto", "cpu").type == "cpu"
    assert attribution_device("auto", "gpu").type == ("cuda" if gpu else "cpu")
    if not gpu:
        from forecaster.data.errors import ConfigError

        with pytest.raises(ConfigError, match="no CUDA"):
            attribution_device("cuda", "cpu")
