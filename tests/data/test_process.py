"""Process definitions: presets, config changes, and a plant export read in one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.cli import cli_main
from forecaster.data.errors import (
    ConfigError,
    DataProblems,
    MissingColumnError,
    RangeError,
    UnitDimensionError,
)
from forecaster.data.io import load_table
from forecaster.data.process import Process, default_process, preset
from forecaster.data.process_config import build_process

# A penicillin fed-batch export: 100 m3 vessel, rows every 0.2 h, DO in mg/L, biomass,
# substrate and product in g/L, flows in L/h, ~58,000 L of broth.
PLANT_COLUMNS = {
    "Batch": "B", "Time (h)": 0.0, "DO2 (mg/L)": 12.5, "Biomass (g/L)": 31.0,
    "Sugar (g/L)": 0.05, "Penicillin (g/L)": 1.2, "Sugar feed (L/h)": 80.0,
    "Base (L/h)": 106.426, "Volume (L)": 58542.9, "NH3 (mM)": 100.112,
}  # fmt: skip
MICROBIAL_MAP = {
    "batch_id": "Batch",
    "time": "Time (h)",
    "columns": {
        "DO2 (mg/L)": "do_mg_L",
        "Biomass (g/L)": "biomass_g_L",
        "Sugar (g/L)": "substrate_g_L",
        "Penicillin (g/L)": "product_g_L",
        "Sugar feed (L/h)": "feed_flow_L_h",
        "Base (L/h)": "base_flow_L_h",
        "Volume (L)": "volume_L",
    },  # fmt: skip
}
# The same file described with the CHO names, as the user first tried.
CHO_MAP = {
    "batch_id": "Batch",
    "time": "Time (h)",
    "columns": {
        "DO2 (mg/L)": "do_pct",
        "Biomass (g/L)": "vcd_1e6_cells_mL",
        "Sugar (g/L)": "glucose_g_L",
        "Penicillin (g/L)": "titer_mg_L",
        "Sugar feed (L/h)": "feed_rate_mL_h",
        "Base (L/h)": "base_rate_mL_h",
        "Volume (L)": "volume_L",
        "NH3 (mM)": "ammonia_mM",
    },  # fmt: skip
    "units": {
        "do_pct": "mg/L",
        "vcd_1e6_cells_mL": "g/L",
        "titer_mg_L": "g/L",
        "feed_rate_mL_h": "L/h",
        "base_rate_mL_h": "L/h",
    },  # fmt: skip
}


def _plant_file(tmp_path: Path, drop: tuple[str, ...] = (), **values) -> Path:
    rows = []
    for b in ("P1", "P2"):
        for k in range(6):
            row = {**PLANT_COLUMNS, "Batch": b, "Time (h)": round(0.2 * k, 1)}
            row["Volume (L)"] += 10.0 * k
            row.update(values)
            rows.append({c: v for c, v in row.items() if c not in drop})
    path = tmp_path / "penicillin.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_cho_preset_is_todays_schema():
    cho = default_process()
    assert cho.names == schema.VARIABLE_NAMES
    for v, s in zip(cho.variables, schema.VARIABLES):
        assert (v.unit, v.role, v.lo, v.hi, v.label) == (s.unit, s.role, s.lo, s.hi, s.label)
        assert v.known_in_advance == (s.role in ("setpoint", "static"))
    assert (cho.product, cho.feed) == (schema.TITER, schema.FEED)
    assert build_process(None) == cho == build_process({})


@pytest.mark.parametrize("name", ["cho_fedbatch", "microbial_fedbatch"])
def test_a_process_survives_being_stored(name):
    p = build_process({"preset": name, "ranges": {"volume_L": [0, 120000]}})
    assert Process.from_dict(p.to_dict()) == p


def test_microbial_biomass_is_not_a_cell_count():
    micro = preset("microbial_fedbatch")
    assert "biomass_g_L" in micro.names and "vcd_1e6_cells_mL" not in micro.names
    assert micro.variable("volume_L").hi >= 100_000  # a 100 m3 vessel


def test_penicillin_export_passes_with_the_microbial_preset_alone(tmp_path):
    path = _plant_file(tmp_path)
    process = build_process({"preset": "microbial_fedbatch"})
    table = load_table(path, MICROBIAL_MAP, process=process, min_rows=2).table
    assert len(table) == 12 and set(table["batch_id"]) == {"P1", "P2"}
    np.testing.assert_allclose(table["volume_L"].iloc[0], 58542.9)
    np.testing.assert_allclose(table["base_flow_L_h"].iloc[0], 106.426)  # L/h, as logged
    np.testing.assert_allclose(table["do_mg_L"].iloc[0], 12.5)
    assert "ammonia_mM" not in table  # not a variable of this process: left out, unchecked


def test_every_problem_of_the_file_in_one_error(tmp_path):
    path = _plant_file(tmp_path)
    with pytest.raises(DataProblems) as info:
        load_table(path, CHO_MAP, process=default_process(), min_rows=2)
    text, block = str(info.value), info.value.block()
    assert "\n" not in text and block.count("\n  - ") == len(info.value.problems) == 4
    kinds = [type(p) for p in info.value.problems]
    assert kinds.count(UnitDimensionError) == 1 and kinds.count(RangeError) == 3
    assert "'g/L' is a mass concentration; vcd_1e6_cells_mL needs a cell density" in text
    assert "biomass" in text
    # named in the user's column and unit, with the fix
    assert "column Volume (L)" in text and "ranges.volume_L: [0, 120000]" in text
    assert "column Base (L/h)" in text and "106.426" in text and "0 to 100 L/h" in text
    assert "column NH3 (mM)" in text and "batch P1, P2" in text


@pytest.mark.parametrize(
    ("change", "gone"),
    [
        ({"ignore_columns": ["Volume (L)"]}, "Volume (L)"),  # their name
        ({"ignore_columns": ["volume_L"]}, "Volume (L)"),  # a canonical name
        ({"drop": ["volume_L"]}, "Volume (L)"),
        ({"ranges": {"volume_L": [0, 120000]}}, "Volume (L)"),
    ],
)
def test_config_changes_that_fix_a_range_problem(tmp_path, change, gone):
    path = _plant_file(tmp_path, drop=("NH3 (mM)", "Base (L/h)", "Biomass (g/L)"))
    cmap = {
        **CHO_MAP,
        "units": {k: v for k, v in CHO_MAP["units"].items() if k != "vcd_1e6_cells_mL"},
    }
    with pytest.raises(RangeError, match="Volume"):
        load_table(path, cmap, process=default_process(), min_rows=2)
    table = load_table(path, cmap, process=build_process(change), min_rows=2).table
    assert len(table) == 12
    if "ranges" not in change:
        assert "volume_L" not in table


def test_a_variable_the_run_excludes_is_not_range_checked(tmp_path):
    path = _plant_file(tmp_path, drop=("NH3 (mM)", "Base (L/h)", "Biomass (g/L)"))
    cmap = {
        **CHO_MAP,
        "units": {k: v for k, v in CHO_MAP["units"].items() if k != "vcd_1e6_cells_mL"},
    }
    table = load_table(path, cmap, process=default_process(), unchecked={"volume_L"}).table
    assert table["volume_L"].max() > 50_000


def test_a_declared_range_that_misses_most_values_says_so(tmp_path):
    path = _plant_file(tmp_path)
    process = build_process({"preset": "microbial_fedbatch", "ranges": {"volume_L": [0, 5000]}})
    with pytest.raises(RangeError, match=r"most values \(100 %\).*observed 58542.9 to 58592.9 L"):
        load_table(path, MICROBIAL_MAP, process=process)


@pytest.mark.parametrize(
    ("missing", "words"),
    [("Penicillin (g/L)", "process's product"), ("Sugar feed (L/h)", "process's feed")],
)
def test_product_or_feed_column_missing(tmp_path, missing, words):
    path = _plant_file(tmp_path, drop=(missing,))
    with pytest.raises(MissingColumnError, match=words):
        load_table(path, MICROBIAL_MAP, process=preset("microbial_fedbatch"))


def test_a_process_without_feed_needs_no_feed_column(tmp_path):
    path = _plant_file(tmp_path, drop=("Sugar feed (L/h)",))
    process = build_process({"preset": "microbial_fedbatch", "feed": "none"})
    assert process.feed is None
    assert len(load_table(path, MICROBIAL_MAP, process=process).table) == 12


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"variables": {"volume_L": {"unit": "L", "role": "online"}}}, "declared twice"),
        ({"variables": {"Volume_l": {"unit": "L", "role": "online"}}}, "declared twice"),
        (
            {
                "variables": {
                    "a_g_L": {"unit": "g/L", "role": "product"},
                    "b_g_L": {"unit": "g/L", "role": "product"},
                }
            },  # fmt: skip
            "both declared as product",
        ),
        ({"variables": {"x": {"unit": "furlongz", "role": "online"}}}, "furlongz"),
        ({"variables": {"x": {"unit": "g/L", "role": "sensor"}}}, "unknown role"),
        ({"ranges": {"volume_l": [0, 1]}}, "did you mean 'volume_L'"),
        ({"ranges": {"volume_L": [5, 1]}}, "low must be below high"),
        ({"drop": ["nope"]}, "not in preset"),
        ({"preset": "ecoli"}, "unknown process preset"),
        ({"product": "biomass"}, "not a variable of the process"),
    ],
)
def test_bad_process_sections(section, words):
    with pytest.raises(ConfigError, match=words):
        build_process(section)


def test_several_bad_keys_are_reported_together():
    with pytest.raises(DataProblems) as info:
        build_process({"drop": ["nope"], "ranges": {"volume_L": [5, 1]}})
    assert len(info.value.problems) == 2


def test_a_variable_mapped_twice_is_declared_twice():
    from forecaster.data.column_map import ColumnMap

    with pytest.raises(ConfigError, match="declared twice"):
        ColumnMap.from_dict({"columns": {"A": "ph", "B": "ph"}})


def test_command_line_exit_2_one_block_no_traceback(tmp_path, capsys):
    path = _plant_file(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli_main(lambda: load_table(path, CHO_MAP, process=default_process()))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "4 problems" in err
