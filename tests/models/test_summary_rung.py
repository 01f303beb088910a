"""``ridge_summary``: the harvest value from static inputs and signal summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.ladder import NaiveMean, RidgeSummary, rung_from_state_dict
from forecaster.models.ladder.protocol import upto


def _batches(n: int, seed: int = 0) -> list[pd.DataFrame]:
    """10-day batches every 12 h; the product (at harvest only) follows the start sugar."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 241.0, 12.0)
    out = []
    for b in range(n):
        sugar = rng.uniform(10, 30)
        y = np.full(len(t), np.nan)
        y[-1] = 0.2 * sugar * (1 + 0.01 * rng.standard_normal())
        out.append(pd.DataFrame({schema.BATCH_ID: f"B{b}", schema.TIME: t,
                                 "start_sugar_g_L": sugar, "do_mg_L": 3 + rng.standard_normal(len(t)),
                                 "product_g_L": y}))  # fmt: skip
    return out


def test_summary_rung_beats_the_mean_and_round_trips():
    train, test = _batches(12), _batches(6, seed=1)
    truth = np.asarray([b["product_g_L"].iloc[-1] for b in test])
    rung = RidgeSummary("product_g_L", inputs=("start_sugar_g_L", "do_mg_L", "product_g_L"))
    rung.fit(train)
    assert rung.columns == ("start_sugar_g_L", "do_mg_L")  # the product is never an input
    mean = NaiveMean("product_g_L").fit(train)
    pre = [upto(b, 72.0) for b in test]
    err = np.abs(rung.predict(pre)[:, 1] - truth).mean()
    assert err < 0.5 * np.abs(mean.predict(pre)[:, 1] - truth).mean()
    again = rung_from_state_dict(rung.state_dict())
    assert isinstance(again, RidgeSummary) and again.product == "product_g_L"
    np.testing.assert_allclose(again.predict(pre), rung.predict(pre))
