"""Explanations for any process: product and feed come from the fitted preprocessing."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.data.process import preset
from forecaster.explain.config import ExplainConfig
from forecaster.explain.plots import _label
from forecaster.explain.rf_importance import rf_design
from forecaster.pipeline.explain_report import markdown_section
from forecaster.pipeline.explain_stage import feed_of, product_of

from .conftest import batches_of, tiny_table


def _microbial_rows(n: int = 3) -> pd.DataFrame:
    rows = []
    for i in range(n):
        t = np.arange(0.0, 48.0, 6.0)
        daily = t % 24 == 0
        rows.append(pd.DataFrame({
            schema.BATCH_ID: f"M{i}", schema.TIME: t,
            "do_mg_L": 3.0 + 0.1 * i, "ph": 7.0, "feed_flow_L_h": 0.5 * (t > 12),
            "biomass_g_L": np.where(daily, 1.0 + t / 10, np.nan),
            "product_g_L": np.where(daily, t / 24 + i, np.nan),
        }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_product_and_feed_come_from_the_preprocessing():
    micro = preset("microbial_fedbatch")
    prep = Preprocessor.fit(_microbial_rows(), ["do_mg_L", "ph", "biomass_g_L"], process=micro)
    assert product_of(prep) == ("product_g_L", "Product")
    assert feed_of(prep) == "feed_flow_L_h"
    cho = Preprocessor(variables=["do_pct"], mean=[40.0], std=[1.0])
    assert product_of(cho) == ("titer_mg_L", "Titer") and feed_of(cho) == schema.FEED


def test_without_a_feed_the_feed_head_is_not_explained():
    cfg = ExplainConfig()
    assert cfg.for_process(None).targets == ["titer"]
    assert cfg.for_process("feed_flow_L_h") is cfg and cfg.targets == ["feed", "titer"]


def test_rf_design_reads_the_process_product():
    rows = batches_of(tiny_table(n_batches=3, n_days=3, step_h=6.0, seed=0))
    rows = [b.assign(product_g_L=2.0 * b["titer_mg_L"]) for b in rows]
    fake = types.SimpleNamespace(
        product="product_g_L", feed=None, features=lambda ps: np.zeros((len(ps), 2))
    )
    _, y = rf_design(fake, rows, "titer", [12.0])
    assert np.allclose(y, [b["product_g_L"].dropna().iloc[-1] for b in rows])
    _, y_cho = rf_design(fake, rows, "titer", [12.0], product="titer_mg_L")
    assert np.allclose(y_cho, y / 2.0)


def test_report_and_figures_name_the_process_variables():
    cfg = ExplainConfig().for_process(None)
    tables = {"titer": pd.DataFrame({"ig": [0.7, 0.3]}, index=["do_mg_L", "ph"])}
    metrics = {"product": {"name": "product_g_L", "label": "Product"}, "n_batches": 2}
    text = markdown_section(metrics, tables, {}, cfg)
    assert "### Harvest Product" in text and "no feed in the process" in text
    assert "titer" not in text.lower().replace("titer_origin", "")
    assert _label("do_mg_L") == "DO (mg/L)" and _label("my_custom_signal") == "my_custom_signal"
