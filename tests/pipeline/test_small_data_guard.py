"""Too few batches: refused up front with one line; a tiny test split is flagged."""

from __future__ import annotations

import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.data_stage import load_data
from forecaster.pipeline.train import run, work_dir_of


def _cfg(tmp_path, n):
    return parse_config(
        ["--config", "configs/debug.yaml", "--sim.n_batches", str(n)]
        + ["--output_dir", str(tmp_path), "--run_name", "small"]
    )


@pytest.mark.parametrize("n", [3, 5])
def test_too_few_batches_fail_before_training_with_one_line(tmp_path, n):
    cfg, text = _cfg(tmp_path, n)
    with pytest.raises(ConfigError, match=r"split has \d fault-free batch\(es\), at least \d") as e:
        run(cfg, text, log=lambda *_: None)
    assert "\n" not in str(e.value) and "--sim.n_batches" in str(e.value)
    assert not (tmp_path / "small").exists()  # no half-written run folder published
    assert not work_dir_of(tmp_path / "small").exists()  # nor a partial one left behind


def test_a_tiny_test_split_is_flagged_in_the_summary(tmp_path):
    cfg, _ = _cfg(tmp_path, 12)
    with pytest.warns(UserWarning, match="too few"):
        data = load_data(cfg, tmp_path)
    assert "fault-free test batch" in data.summary["warning"]
