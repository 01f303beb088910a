"""Every config error, in any section: one line naming the file (or the command line), the
key and, for a typo, the closest valid key; exit code 2; no usage dump, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline.cli import main as train_main
from forecaster.pipeline.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
DEBUG = str(ROOT / "configs/debug.yaml")


def train_cli(argv, capsys) -> tuple[int, list[str]]:
    """Run ``train.py ARGV`` in this process; returns the exit code and stderr lines."""
    with pytest.raises(SystemExit) as ex:
        train_main([str(a) for a in argv])
    err = capsys.readouterr().err
    return ex.value.code, [line for line in err.splitlines() if line.strip()]


def write(tmp_path, text: str) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("yaml_text", "key", "suggestion"),
    [
        ("trainer:\n  max_epoch: 3\n", "trainer.max_epoch", "trainer.max_epochs"),
        ("anomaly:\n  autoencoder:\n    windw_h: 6\n", "autoencoder.windw_h", "window_h"),
        ("sed: 3\n", "sed", "seed"),
    ],
)
def test_misspelt_key_in_a_file_names_file_key_and_suggestion(
    tmp_path, capsys, yaml_text, key, suggestion
):
    path = write(tmp_path, yaml_text)
    code, lines = train_cli(["--config", DEBUG, "--config", path], capsys)
    assert code == 2
    assert len(lines) == 1, lines  # no usage dump before it
    assert lines[0].startswith(f"error: {path}: ") and "<unicode string>" not in lines[0]
    assert key in lines[0] and "did you mean" in lines[0]
    assert suggestion in lines[0].split("did you mean")[1]


def test_misspelt_option_on_the_command_line(capsys):
    code, lines = train_cli(["--config", DEBUG, "--trainer.max_epoch", "3"], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0] == (
        "error: command line: unknown option --trainer.max_epoch; "
        "did you mean --trainer.max_epochs?"
    )


@pytest.mark.parametrize(
    ("argv", "key", "words"),
    [
        (["--anomaly.autoencoder.threshold.quantile", "5"], "anomaly.autoencoder.threshold.quantile", "(0, 1)"),
        (["--anomaly.autoencoder.cell", "rnn"], "anomaly.autoencoder.cell", "'rnn'"),
        (["--anomaly.pca.threshold.method", "guess"], "anomaly.pca.threshold.method", "guess"),
        (["--explain.ig_steps", "1"], "explain.ig_steps", ">= 2"),
        (["--rf.stride_h", "-1"], "rf.stride_h", "> 0"),
        (["--sim.faults.rate", "3"], "sim.faults.rate", "[0, 1]"),
        (["--trainer.max_epochs", "many"], "trainer.max_epochs", "many"),
    ],
)  # fmt: skip
def test_bad_value_on_the_command_line_is_one_line(capsys, argv, key, words):
    code, lines = train_cli(["--config", DEBUG, *argv], capsys)
    assert code == 2
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].startswith(f"error: command line: {key}"), lines[0]
    assert words in lines[0]


def test_bad_value_in_a_file_names_the_file_and_the_key(tmp_path, capsys):
    path = write(tmp_path, "explain:\n  ig_steps: 1\nanomaly:\n  pca:\n    alpha: 0.99\n")
    code, lines = train_cli(["--config", DEBUG, "--config", path], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"error: {path}: explain.ig_steps")


def test_wrong_type_in_a_file_names_the_file_and_the_key(tmp_path):
    path = write(tmp_path, "trainer:\n  max_epochs: many\n")
    with pytest.raises(ConfigError) as info:
        parse_config(["--config", path], exit_on_error=False)
    assert str(info.value).startswith(f"{path}: trainer.max_epochs: ")


def test_not_yaml_and_missing_file(tmp_path):
    path = write(tmp_path, "trainer: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config(["--config", path], exit_on_error=False)
    with pytest.raises(ConfigError, match="config file not found"):
        parse_config(["--config", str(tmp_path / "nope.yaml")], exit_on_error=False)


def test_good_config_still_parses():
    cfg, text = parse_config(["--config", DEBUG, "--trainer.max_epochs", "2", "--seed", "5"])
    assert (cfg.trainer.max_epochs, cfg.seed, cfg.run_name) == (2, 5, "debug")
    assert "max_epochs: 2" in text
