"""OutputNames and the reason Vocabulary: the user's names and units, table-driven."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.reasons import (
    Vocabulary,
    describe_variable,
    reason_sentence,
    use_vocabulary,
)
from forecaster.data.column_map import ColumnMap
from forecaster.data.process import default_process, preset
from forecaster.serve.display import OutputNames, slug

OWN = ColumnMap(columns={"Titer (g/L)": "titer_mg_L", "Feed (L/day)": "feed_rate_mL_h",
                         "Temp (degF)": "temperature_C"},
                units={"titer_mg_L": "g/L", "feed_rate_mL_h": "L/day", "temperature_C": "degF"})  # fmt: skip
PRED = pd.DataFrame({"batch_id": ["A"], "last_time_h": [50.0], "n_rows": [51],
                     "feed_next_mL_h": [120.0], "harvest_titer_mg_L": [4000.0],
                     "harvest_titer_p10_mg_L": [3000.0], "harvest_titer_p90_mg_L": [5000.0],
                     "n_alarms": [0], "top_variables": ["titer_mg_L;temperature_C"]})  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("g/L", "g_L"), ("%", "pct"), ("1e6 cells/mL", "1e6_cells_mL"), ("Titer (g/L)", "Titer_g_L")],
)
def test_slug(text, expected):
    assert slug(text) == expected


def test_identity_map_leaves_every_table_as_it_is():
    names = OutputNames()
    out = names.predictions(PRED)
    pd.testing.assert_frame_equal(out, PRED)
    assert names.headers()["harvest_titer_p10_mg_L"] == "harvest_titer_p10_mg_L"


@pytest.mark.parametrize(
    ("cmap", "process", "header"),
    [
        (OWN, default_process(), "harvest_Titer_g_L"),
        (ColumnMap(columns={"Penicillin": "product_g_L"}), preset("microbial_fedbatch"),
         "harvest_Penicillin_g_L"),
        (ColumnMap(), preset("microbial_fedbatch"), "harvest_product_g_L"),
    ],
)  # fmt: skip
def test_product_header_is_their_column_and_unit(cmap, process, header):
    assert OutputNames(process, cmap).headers()["harvest_titer_mg_L"] == header


def test_values_go_back_to_their_units_and_times_to_dates():
    names = OutputNames(default_process(), OWN, {"A": pd.Timestamp("2024-01-08 08:00")})
    out = names.predictions(PRED)
    assert out.loc[0, "harvest_Titer_g_L"] == pytest.approx(4.0)
    assert out.loc[0, "feed_next_L_day"] == pytest.approx(120.0 * 24 / 1000)
    assert out.loc[0, "last_time"] == "2024-01-10 10:00"
    assert out.loc[0, "top_variables"] == "Titer (g/L);Temp (degF)"


def test_reason_in_their_names_units_and_dates():
    raw = {"time_h": np.arange(3.0), "temperature_C": np.array([37.0, 37.0, 39.0]),
           "temperature_setpoint_C": np.full(3, 37.0)}  # fmt: skip
    voc = Vocabulary({"temperature_C": "Temp (degF)"}, {"temperature_C": "degF"},
                     start=pd.Timestamp("2024-01-08 08:00"))  # fmt: skip
    text = describe_variable("temperature_C", raw, 2, 2.0, vocab=voc)
    assert text == "Temp rose to 102.2 F at 2 h (2024-01-08 10:00) against a 98.6 F setpoint"
    with use_vocabulary(voc):  # what predict sets around detection
        assert reason_sentence("autoencoder", [("temperature_C", 1.0)], raw, 2, 2.0).startswith(
            "Temp rose to 102.2 F"
        )
    assert describe_variable("temperature_C", raw, 2, 2.0).startswith("Temperature rose to 39.0 C")
