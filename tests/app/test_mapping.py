"""Column-map assistant: proposals from headers, the Data page's panel, the saved config."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from forecaster.data.errors import DataError
from forecaster.data.process import preset
from forecaster.pipeline.config import load_config_file
from forecaster.serve.app.mapping import guess_keys, propose, save_config, split_header
from tests.app.conftest import texts

CHO = {"batch_id": "Run", "time_h": "Hours", "glucose_g_L": "Glucose (g/L)", "do_pct": "DO [%]",
       "vcd_1e6_cells_mL": "VCD (1e6 cells/mL)", "temperature_C": "Temp (C)", "lactate_g_L": "Lactate [g/L]"}  # fmt: skip


@pytest.mark.parametrize(
    ("header", "name", "unit"),
    [("Glucose (g/L)", "Glucose", "g/L"), ("DO [mg/L]", "DO", "mg/L"), ("titer_mg_L", "titer", "mg/L"),
     ("vcd_1e6_cells_mL", "vcd", "1e6 cells/mL"), ("Viability %", "Viability", "%"), ("pH", "pH", None),
     ("Operator", "Operator", None)],
)  # fmt: skip
def test_units_are_parsed_from_headers(header, name, unit):
    assert split_header(header) == (name, unit)


def test_proposals_for_a_cho_header_set():
    headers = ["Run", "Hours", "Glucose (g/L)", "Lactate [mmol/L]", "DO [mg/L]", "titer_mg_L", "Viability %",
               "Temp (C)", "Gln (mM)", "Feed rate (mL/h)", "Operator"]  # fmt: skip
    assert guess_keys(pd.DataFrame(columns=headers)) == ("Run", "Hours", "h")
    got = {
        p.column: (p.target, p.unit)
        for p in propose(headers, preset("cho_fedbatch"), skip=["Run", "Hours"])
    }
    assert got == {"Glucose (g/L)": ("glucose_g_L", "g/L"), "Lactate [mmol/L]": ("lactate_g_L", "mmol/L"),
                   "DO [mg/L]": ("do_pct", "mg/L"), "titer_mg_L": ("titer_mg_L", "mg/L"),
                   "Viability %": ("viability_pct", "%"), "Temp (C)": ("temperature_C", "degC"),
                   "Gln (mM)": ("glutamine_mM", "mM"), "Feed rate (mL/h)": ("feed_rate_mL_h", "mL/h"),
                   "Operator": (None, None)}  # fmt: skip


def test_proposals_for_a_microbial_header_set():
    headers = ["Batch", "Time [min]", "Biomass (g/L)", "Substrate (g/L)", "Product [mg/L]", "DO (%)",
               "Feed flow (mL/h)", "Agitation (rpm)", "OD600"]  # fmt: skip
    table = pd.DataFrame({h: [1.0] for h in headers})
    assert guess_keys(table) == ("Batch", "Time [min]", "min")
    got = {
        p.column: p.target for p in propose(headers, preset("microbial_fedbatch"), skip=headers[:2])
    }
    assert got == {"Biomass (g/L)": "biomass_g_L", "Substrate (g/L)": "substrate_g_L",
                   "Product [mg/L]": "product_g_L", "DO (%)": "do_mg_L", "Feed flow (mL/h)": "feed_flow_L_h",
                   "Agitation (rpm)": "agitation_rpm", "OD600": None}  # fmt: skip


def test_a_config_is_never_overwritten_without_asking(tmp_path):
    target = save_config({"run_name": "a"}, tmp_path / "a.yaml")
    with pytest.raises(DataError, match="exists"):
        save_config({"run_name": "b"}, target)
    save_config({"run_name": "b"}, target, overwrite=True)
    assert "run_name: b" in target.read_text()


@pytest.fixture
def their_file(app_dirs, tmp_path):
    table = pd.read_csv(app_dirs.data_dir / "new.csv")
    path = tmp_path / "their.csv"
    table.rename(columns=CHO).to_csv(path, index=False)
    return path


def test_data_page_assistant_proposes_validates_and_saves_a_config(
    app, app_dirs, their_file, tmp_path
):
    settings = replace(app_dirs, configs=tmp_path / "configs")
    at = app(app_settings=settings, data_path=str(their_file))
    assert not at.exception
    boxes = {s.label: s for s in at.selectbox}
    assert boxes["Batch-id column"].value == "Run" and boxes["Time column"].value == "Hours"
    assert (
        boxes["Glucose (g/L)"].value == "glucose_g_L" and boxes["Temp (C)"].value == "temperature_C"
    )
    assert "reads with this map: 4 batches" in texts(at)
    at.text_input(key="cm_run").set_value("theirs").run()
    at.button(key="cm_save").click().run()
    assert not at.exception
    saved = tmp_path / "configs" / "theirs.yaml"
    cfg, _ = load_config_file(saved)  # the config train.py reads
    assert cfg.run_name == "theirs" and cfg.data.path == str(their_file)
    assert cfg.data.column_map.columns["Glucose (g/L)"] == "glucose_g_L"
    assert cfg.data.column_map.batch_id == "Run" and cfg.data.column_map.time == "Hours"
    assert cfg.data.column_map.units == {}  # the file's units are the variables' own
    at.run()
    assert "tick overwrite" in texts(at)
    assert at.button(key="cm_save").disabled


def test_a_bad_mapping_and_a_wrong_unit_are_one_line_each(app, app_dirs, their_file, tmp_path):
    settings = replace(app_dirs, configs=tmp_path / "configs")
    at = app(app_settings=settings, data_path=str(their_file))
    glucose = next(s for s in at.selectbox if s.label == "Glucose (g/L)")
    glucose.set_value("lactate_g_L").run()
    assert not at.exception
    errors = [e.value for e in at.error]  # the assistant's, then the run's (their names differ)
    assert (
        errors[0]
        == "error: bad mapping: lactate_g_L chosen for more than one column; choose each variable once"
    )
    assert len(errors) == 2 and "column batch_id: not found" in errors[1]
    glucose = next(s for s in at.selectbox if s.label == "Glucose (g/L)")
    glucose.set_value("glucose_g_L").run()
    unit = next(t for t in at.text_input if t.label == "unit of Glucose (g/L)")
    unit.set_value("rpm").run()
    assert not at.exception
    assert at.error[0].value.startswith("error: `their.csv` with this map: 1 problem(s)")
    assert any("rpm" in m.value and "Glucose (g/L)" in m.value for m in at.markdown)
    assert not (tmp_path / "configs").exists()
