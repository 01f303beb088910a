"""The fitted preprocessing records the process (roles, ranges, units, product, feed)."""

from __future__ import annotations

import math

import pytest

from forecaster import schema
from forecaster.data.features import PREP_FORMAT, Preprocessor, upgrade_prep_state
from forecaster.data.process import preset
from forecaster.models.inputs import check_batch
from tests.pipeline.any_process_data import USER_COLUMNS, microbial_table
from tests.synthetic import synthetic_table

CHO_INPUTS = ["ph", "do_pct", "glucose_g_L", "titer_mg_L", "feed_glucose_g_L"]


def _microbial():
    table = microbial_table(n_batches=2, days=2.0, step_h=6.0).rename(columns=USER_COLUMNS)
    return table.rename(columns={"Batch": schema.BATCH_ID, "Time (h)": schema.TIME})


def test_format_1_state_is_migrated_with_the_cho_roles():
    prep = Preprocessor.fit(synthetic_table(2, 48), CHO_INPUTS)
    old = {k: v for k, v in prep.state_dict().items()
           if k not in ("format_version", "roles", "ranges", "product", "feed", "units", "labels")}  # fmt: skip
    new = upgrade_prep_state(old)
    assert new["format_version"] == PREP_FORMAT == 2
    assert new["roles"] == {v: schema.variable(v).role for v in CHO_INPUTS}
    assert new["product"] == schema.TITER and new["feed"] == schema.FEED
    assert new["ranges"]["ph"] == [5.5, 8.5] and new["units"]["titer_mg_L"] == "mg/L"
    again = Preprocessor.from_state_dict(old)
    assert again.state_dict() == prep.state_dict()  # the CHO preset reproduces today's fit
    assert again.offline == ["glucose_g_L", "titer_mg_L"]


def test_microbial_roles_ranges_and_targets_ride_in_the_state():
    process = preset("microbial_fedbatch")
    table = _microbial()
    inputs = ["do_mg_L", "biomass_g_L", "feed_substrate_g_L", "product_g_L"]
    prep = Preprocessor.fit(table, inputs, process=process)
    assert prep.product == "product_g_L" and prep.feed == "feed_flow_L_h"
    assert prep.offline == ["biomass_g_L", "product_g_L"]
    assert prep.role("feed_substrate_g_L") == "static"
    assert prep.bounds("do_mg_L") == (0.0, 100.0) and prep.unit("product_g_L") == "g/L"
    back = Preprocessor.from_state_dict(prep.state_dict())
    assert back.state_dict() == prep.state_dict() and back.feature_names == prep.feature_names
    # the fitted range refuses a value the CHO schema does not even know
    rows = table[table[schema.BATCH_ID] == "M000"].copy()
    rows.loc[rows.index[1], "do_mg_L"] = 150.0
    with pytest.raises(Exception, match="outside the physical range"):
        check_batch(rows, prep.variables, bounds_of=prep.bounds)


def test_a_variable_the_process_lacks_is_refused_with_a_suggestion():
    with pytest.raises(KeyError, match="biomass_g_L"):
        Preprocessor.fit(_microbial(), ["biomass_g_l"], process=preset("microbial_fedbatch"))


def test_unbounded_range_round_trips_as_none():
    prep = Preprocessor.fit(synthetic_table(1, 24), ["ph"])
    prep.ranges["ph"] = [None, None]
    assert Preprocessor.from_state_dict(prep.state_dict()).bounds("ph") == (-math.inf, math.inf)
