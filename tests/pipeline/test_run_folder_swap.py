"""A rerun never loses the finished run: refuse without --overwrite, build beside, swap last."""

from __future__ import annotations

import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline import train as train_mod
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.train import run, work_dir_of

FAST = ["--config", "configs/debug.yaml", "--explain.enabled", "false"]
FAST += ["--anomaly.enabled", "false"]


def _cfg(tmp_path, *extra):
    return parse_config([*FAST, "--output_dir", str(tmp_path), "--run_name", "r", *extra])


def _finished_run(tmp_path):
    """A stand-in for a finished run folder with a file the user cares about."""
    final = tmp_path / "r"
    final.mkdir()
    (final / "manifest.json").write_text("{}")
    (final / "notes.txt").write_text("mine")
    return final


def test_existing_run_is_refused_by_default_and_kept(tmp_path):
    final = _finished_run(tmp_path)
    cfg, text = _cfg(tmp_path)
    with pytest.raises(ConfigError, match="--overwrite true"):
        run(cfg, text, log=lambda *_: None)
    assert (final / "notes.txt").read_text() == "mine"
    assert not work_dir_of(final).exists()


def test_interrupted_rerun_leaves_the_old_run_intact(tmp_path, monkeypatch):
    final = _finished_run(tmp_path)

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "load_data", interrupted)
    cfg, text = _cfg(tmp_path, "--overwrite", "true")
    with pytest.raises(KeyboardInterrupt):
        run(cfg, text, log=lambda *_: None)
    assert (final / "notes.txt").read_text() == "mine"
    assert (final / "manifest.json").exists()


def test_overwrite_swaps_in_the_new_run_only_when_complete(tmp_path):
    final = _finished_run(tmp_path)
    cfg, text = _cfg(tmp_path, "--overwrite", "true")
    run_dir, _ = run(cfg, text, log=lambda *_: None)
    assert run_dir == final
    assert (final / "forecast" / "model.pt").exists() and (final / "metrics.json").exists()
    assert not (final / "notes.txt").exists()  # the old run was replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no partial or old copies left
