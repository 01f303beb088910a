"""Issue #14, finding 3: a rerun never deletes the finished run.

The trial's ``make demo`` twice, or any ``train.py`` with an existing ``--run_name``,
removed the previous run first (``--overwrite`` defaulted to true). The swap itself is
tested in ``tests/pipeline/test_run_folder_swap.py`` through ``run()``; these hold the
command the user types: its default, its message and the Makefile target.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forecaster.pipeline.cli import main as train_main
from forecaster.pipeline.config import parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_overwrite_is_off_unless_asked_for():
    demo = re.search(r"^CONFIG\s*\??=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    cfg, _ = parse_config(["--config", str(ROOT / demo.group(1))])  # what make demo runs
    assert cfg.overwrite is False


def test_train_command_refuses_an_existing_run_in_one_line_and_keeps_it(tmp_path, capsys):
    old = tmp_path / "r"
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    (old / "notes.txt").write_text("mine")
    argv = ["--config", str(ROOT / "configs/debug.yaml"), "--output_dir", str(tmp_path)]
    with pytest.raises(SystemExit) as ex:
        train_main([*argv, "--run_name", "r"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert ex.value.code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and "--overwrite true" in err[0] and str(old) in err[0]
    assert (old / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_make_demo_does_not_overwrite_by_default():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no demo target"
    assert "overwrite" not in recipe.group(1)  # only when the user passes ARGS=...
    assert not re.search(r"^ARGS\s*\??=.*overwrite", makefile, re.M)
