"""Issue #14, finding 5: too few batches.

The trial's ``--sim.n_batches 3``, ``5`` and ``10`` ended in tracebacks (``cannot convert
float NaN to integer``) with half-written run folders, and ``8`` "succeeded" with one test
batch (MAPE 74 %) and no warning. 3 and 5 are refused in
``tests/pipeline/test_small_data_guard.py``; these cover 10 and 8, and check that the
warning reaches the finished run's report and metrics, not only the log.
"""

from __future__ import annotations

import json

import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.train import run, work_dir_of


def test_ten_batches_are_refused_in_one_line_without_a_folder(tmp_path):
    cfg, text = parse_config(
        ["--config", "configs/debug.yaml", "--sim.n_batches", "10", "--sim.run_length_days", "4"]
        + ["--output_dir", str(tmp_path), "--run_name", "ten"]
    )
    with pytest.raises(ConfigError, match=r"split has \d fault-free batch") as err:
        run(cfg, text, log=lambda *_: None)
    msg = str(err.value)
    assert "\n" not in msg and "--sim.n_batches" in msg and "NaN" not in msg
    assert list(tmp_path.iterdir()) == []  # nothing published, nothing partial left
    assert not work_dir_of(tmp_path / "ten").exists()


def test_a_run_on_a_tiny_test_split_says_so_in_its_report_and_metrics(run_dir):
    """The session's tiny run (12 batches) has one fault-free test batch."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    data = metrics["data"]
    assert data["n_test_batches"] - data["n_test_faulty_batches"] < 5
    assert "fault-free test batch" in data["warning"] and "too few" in data["warning"]
    report = (run_dir / "report.md").read_text()
    head = report[: report.index("\n## ")] if "\n## " in report else report
    assert "**Warning:**" in head and data["warning"] in head  # at the top, not buried
