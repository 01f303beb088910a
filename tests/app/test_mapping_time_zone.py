"""The column-map assistant's time zone: picked by the user (never guessed), saved in the map.

The file: the app's four new batches with local Europe/Berlin wall-clock timestamps through
25 October 2026, when 02:00-03:00 happens twice.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from forecaster.data.process import preset
from forecaster.pipeline.config import load_config_file
from forecaster.serve.app.mapping import NO_ZONE, build_map, zone_choices
from tests.app.conftest import texts
from tests.app.test_mapping import CHO

ZONE_BOX = "Time zone of the timestamps"


def test_zone_choices_start_with_none_and_hold_every_iana_zone():
    zones = zone_choices()
    assert zones[0] == NO_ZONE == "none"
    assert {"Europe/Berlin", "America/New_York", "UTC"} <= set(zones)
    assert zones[1:] == sorted(zones[1:])


@pytest.mark.parametrize(("zone", "expected"), [(None, None), ("none", None),
                                                ("Europe/Berlin", "Europe/Berlin")])  # fmt: skip
def test_build_map_sets_the_zone_only_when_one_is_picked(zone, expected):
    cmap = build_map({}, "Run", "Timestamp", "timestamp", preset("cho_fedbatch"), time_zone=zone)
    assert cmap.time_zone == expected
    assert ("time_zone" in cmap.to_dict()) == (expected is not None)


@pytest.fixture
def local_file(app_dirs, tmp_path):
    table = pd.read_csv(app_dirs.data_dir / "new.csv")
    start = pd.Timestamp("2026-10-24 20:00", tz="Europe/Berlin")
    stamps = start + pd.to_timedelta(table["time_h"], unit="h")
    table["time_h"] = stamps.dt.tz_convert("Europe/Berlin").dt.strftime("%Y-%m-%d %H:%M")
    path = tmp_path / "their_local.csv"
    table.rename(columns={**CHO, "time_h": "Timestamp"}).to_csv(path, index=False)
    return path


def test_assistant_sets_and_saves_the_time_zone(app, app_dirs, local_file, tmp_path):
    settings = replace(app_dirs, configs=tmp_path / "configs")
    at = app(app_settings=settings, data_path=str(local_file))
    assert not at.exception
    boxes = {s.label: s for s in at.selectbox}
    assert boxes["Time column"].value == "Timestamp" and boxes["Time unit"].value == "timestamp"
    assert boxes[ZONE_BOX].value == NO_ZONE and not boxes[ZONE_BOX].disabled  # not guessed
    # read as they are, the repeated autumn hour is a duplicated time: the zone is the fix
    assert at.error[0].value.startswith(f"error: `{local_file.name}` with this map:")
    assert "appears twice" in texts(at) and "time_zone" in texts(at)
    boxes[ZONE_BOX].set_value("Europe/Berlin").run()
    assert not at.exception
    assert "reads with this map: 4 batches" in texts(at)
    at.text_input(key="cm_run").set_value("local").run()
    at.button(key="cm_save").click().run()
    assert not at.exception
    cfg, _ = load_config_file(tmp_path / "configs" / "local.yaml")
    assert cfg.data.column_map.time_zone == "Europe/Berlin"
    assert cfg.data.column_map.time_unit == "timestamp"


def test_zone_box_is_off_for_hours(app, app_dirs, tmp_path):
    table = pd.read_csv(app_dirs.data_dir / "new.csv").rename(columns=CHO)
    path = tmp_path / "hours.csv"
    table.to_csv(path, index=False)
    at = app(app_settings=replace(app_dirs, configs=tmp_path / "c"), data_path=str(path))
    box = next(s for s in at.selectbox if s.label == ZONE_BOX)
    assert box.disabled and box.value == NO_ZONE
    assert "reads with this map: 4 batches" in texts(at)
