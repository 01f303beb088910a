"""``ridge_plan``: the ridge on the assay history plus the plan known in advance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecaster import schema
from forecaster.models.ladder import RidgeHistory, RidgePlan, rung_from_state_dict
from forecaster.models.ladder.protocol import upto


@pytest.fixture(scope="module")
def batches():
    from forecaster.sim import SimConfig, simulate

    t = simulate(SimConfig(run_length_days=7), n_batches=16, seed=3).table
    return [g.sort_values(schema.TIME) for _, g in t.groupby(schema.BATCH_ID)]


def test_uses_the_plan_columns_every_batch_has_and_round_trips(batches):
    rung = RidgePlan(statics=(*schema.PLAN, "not_a_column")).fit(batches[:12])
    assert rung.plan == schema.PLAN
    pre = [upto(b, 72.0) for b in batches[12:]]
    back = rung_from_state_dict(json.loads(json.dumps(rung.state_dict())))
    assert isinstance(back, RidgePlan) and back.plan == rung.plan
    np.testing.assert_allclose(back.predict(pre), rung.predict(pre), rtol=1e-12)
    # the plan is read: another planned shift gives another forecast
    moved = [p.assign(planned_shift_h=p["planned_shift_h"] + 48.0) for p in pre]
    assert not np.allclose(rung.predict(moved)[:, 1], rung.predict(pre)[:, 1])


def test_without_plan_columns_it_is_the_history_ridge(batches):
    plain = [b.drop(columns=list(schema.PLAN)) for b in batches]
    a = RidgePlan(statics=schema.PLAN).fit(plain[:12])
    b = RidgeHistory().fit(plain[:12])
    pre = [upto(x, 96.0) for x in plain[12:]]
    assert a.plan == ()
    np.testing.assert_allclose(a.predict(pre), b.predict(pre), rtol=1e-12)
