"""Issue #14, finding 9: every command's config errors are one located line.

The trial found a 395-line usage dump before every config error, no "did you mean" and
``<unicode string>`` instead of the file's name. ``tests/cli`` holds this for ``train``
in depth; these check the same contract on the other commands a user types.
"""

from __future__ import annotations

import pytest

from forecaster.__main__ import main as forecaster_main


def _run(argv, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as ex:
        forecaster_main([str(a) for a in argv])
    err = capsys.readouterr().err
    return ex.value.code, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("argv", "typo", "meant"),
    [
        (["simulate", "--out", "x.csv", "--n_batchs", "3"], "--n_batchs", "--n_batches"),
        (["predict", "--run", "r", "--inptu", "y", "--out", "z"], "--inptu", "--input"),
        (["optimize", "--input", "x", "--out", "y", "--n_trails", "3"], "--n_trails", "--n_trials"),
    ],
)  # fmt: skip
def test_a_misspelt_option_is_one_line_with_the_closest_valid_one(argv, typo, meant, capsys):
    code, lines = _run(argv, capsys)
    assert code == 2 and len(lines) == 1, lines  # no usage dump
    assert lines[0] == f"error: command line: unknown option {typo}; did you mean {meant}?"


def test_a_misspelt_key_in_a_simulator_config_file_names_the_file(tmp_path, capsys):
    path = tmp_path / "sim.yaml"
    path.write_text("faults:\n  rat: 0.2\n")
    code, lines = _run(["simulate", "--config", path, "--out", tmp_path / "x.csv"], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0] == f"error: {path}: unknown key faults.rat; did you mean faults.rate?"
    assert not (tmp_path / "x.csv").exists()
