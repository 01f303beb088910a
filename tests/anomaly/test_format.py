"""Saved detectors: format 2 through forecaster.state, format-1 folders through a migration.

``data/format_v1/`` is the ``anomaly/`` folder of a debug run written by the format-1 code
(``model.pt`` + ``thresholds.json`` + ``pca.npz``); ``expected.json`` holds the scores and
events that code gave on ``make_batch("F", 96, seed=78, do_fault_h=40)``, less its
``do_shift`` alarm at 40 h: the DO check no longer counts the jump of the DO cascade to its
ceiling (the aeration failure) as probe drift.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from forecaster.anomaly.config import AnomalyConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.data.errors import RunFolderError
from forecaster.state import save_state
from tests.anomaly.conftest import make_batch

V1 = Path(__file__).parent / "data" / "format_v1"
ALL = ("autoencoder", "rules", "pca")


@pytest.fixture
def v1_run(tmp_path) -> Path:
    shutil.copytree(V1, tmp_path / "anomaly", ignore=shutil.ignore_patterns("expected.json"))
    return tmp_path


def _event_rows(events) -> list:
    return [[e.detector, e.rule, e.start_h, e.raised_h, e.end_h] for e in events]


def test_format_1_folder_loads_with_the_same_scores_and_events(v1_run):
    expected = json.loads((V1 / "expected.json").read_text())
    det = AnomalyDetector.load(v1_run)
    assert det.names == ["autoencoder", "pca"]
    rows = make_batch("F", n_hours=96, seed=78, do_fault_h=40.0)
    np.testing.assert_allclose(det.score(rows)["ae_score"], expected["ae_score"], rtol=1e-6)
    assert det.threshold == expected["threshold"]
    events = det.detect(rows, detectors=ALL)
    assert _event_rows(events) == [e[:5] for e in expected["events"]]
    assert [e.reason for e in events] == [e[6] for e in expected["events"]]


def test_resaving_a_format_1_folder_writes_the_current_format(v1_run, tmp_path):
    det = AnomalyDetector.load(v1_run)
    paths = det.save(tmp_path / "new" / "anomaly")
    assert set(paths) == {"model", "thresholds"}
    state = torch.load(paths["model"], weights_only=True)
    assert (state["kind"], state["format_version"]) == ("anomaly-detector", 3)
    assert [s["name"] for s in state["scorers"]] == ["autoencoder", "pca"]
    again = AnomalyDetector.load(tmp_path / "new")
    rows = make_batch("G", n_hours=80, seed=5, do_fault_h=50.0)
    assert _event_rows(again.detect(rows, detectors=ALL)) == _event_rows(
        det.detect(rows, detectors=ALL)
    )
    readable = json.loads(paths["thresholds"].read_text())
    assert readable["pca"]["threshold"] == det.get("pca")[1].threshold


@pytest.mark.parametrize("version", [4, 99])
def test_newer_format_is_a_one_line_error(v1_run, version):
    state = torch.load(v1_run / "anomaly" / "model.pt", weights_only=True)
    state.pop("format_version")
    save_state(v1_run / "anomaly" / "model.pt", "anomaly-detector", version, state)
    with pytest.raises(RunFolderError, match=f"format version {version} is newer") as err:
        AnomalyDetector.load(v1_run)
    assert "\n" not in str(err.value)


def test_format_1_without_thresholds_is_a_one_line_error(v1_run):
    (v1_run / "anomaly" / "thresholds.json").unlink()
    with pytest.raises(RunFolderError, match="thresholds.json not found"):
        AnomalyDetector.load(v1_run)


def test_old_threshold_keys_move_to_the_scorer_sections():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = AnomalyConfig(
            threshold={"margin": 1.5, "merge_gap_h": 6.0}, pca={"persistence_steps": 3}
        )
    assert any("anomaly.threshold" in str(w.message) for w in caught)
    assert cfg.threshold is None and cfg.pca.persistence_steps is None
    ae, pca = cfg.autoencoder.threshold, cfg.pca.threshold
    assert (ae.margin, ae.merge_gap_h, ae.persistence_steps) == (1.5, 6.0, 1)
    # shared settings follow the old section; the PCA's own ones stay its own
    assert (pca.margin, pca.merge_gap_h, pca.persistence_steps) == (1.0, 6.0, 3)
    assert AnomalyConfig().pca.threshold.persistence_steps == 2


def test_unknown_scorer_section_is_an_error():
    with pytest.raises(ValueError, match="anomaly.scorers.nope"):
        AnomalyConfig(scorers={"nope": {}})
