"""``--help`` is short (sections and most-used keys); ``--help-all`` lists every key; the
``forecaster`` command dispatches to train, predict and simulate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from forecaster.__main__ import main as forecaster_main

MAX_LINES = 60


def run(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        forecaster_main(argv)
    out = capsys.readouterr()
    return ex.value.code, out.out, out.err


@pytest.mark.parametrize("command", ["train", "predict", "simulate"])
def test_subcommand_help_is_short(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: forecaster {command} ")
    assert len(out.splitlines()) < MAX_LINES
    assert "--help-all" in out


@pytest.mark.parametrize(
    ("command", "words"),
    [("train", ["--trainer.max_epochs", "anomaly", "explain"]),
     ("simulate", ["--n_batches", "--out", "faults"]),
     ("predict", ["--run", "--input", "--out", "--overwrite"])],
)  # fmt: skip
def test_help_names_sections_and_keys_and_help_all_is_the_full_list(command, words, capsys):
    _, short, _ = run([command, "--help"], capsys)
    for w in words:
        assert w in short, w
    code, full, _ = run([command, "--help-all"], capsys)
    assert code == 0 and len(full.splitlines()) > len(short.splitlines())
    if command != "predict":  # predict has a dozen options: its short help is all of them
        assert len(full.splitlines()) > 10 * MAX_LINES


def test_entry_points_share_the_short_help(capsys):
    from forecaster.pipeline.cli import main as train_main
    from forecaster.sim.cli import main as sim_main

    with pytest.raises(SystemExit) as ex:
        train_main(["--help"])
    out = capsys.readouterr().out
    assert ex.value.code == 0 and out.startswith("usage: train.py ")
    assert len(out.splitlines()) < MAX_LINES
    with pytest.raises(SystemExit):
        sim_main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m forecaster.sim ") and len(out.splitlines()) < MAX_LINES


def test_unknown_command_suggests_the_closest(capsys):
    code, _, err = run(["trian", "--config", "x.yaml"], capsys)
    assert code == 2 and err == "error: unknown command 'trian'; did you mean train?\n"


def test_python_dash_m_forecaster_lists_the_commands():
    proc = subprocess.run(
        [sys.executable, "-m", "forecaster", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    for command in ("train", "predict", "simulate"):
        assert f"\n  {command} " in proc.stdout
