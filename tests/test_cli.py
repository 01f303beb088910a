"""cli_main: user errors -> one line on stderr and exit 2; bugs keep their traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from forecaster.cli import cli_main
from forecaster.data.errors import ChecksumError, ConfigError, RangeError


def _run(fn, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        cli_main(fn)
    return info.value.code, capsys.readouterr().err


def test_return_code_passes_through(capsys):
    assert _run(lambda: None, capsys) == (0, "")
    assert _run(lambda: 3, capsys) == (3, "")


@pytest.mark.parametrize(
    "err",
    [
        RangeError("value -1 is outside", file="a.csv", batch="B1", column="ph", rows=[4]),
        ConfigError("split fractions must sum to 1"),
        ChecksumError("rf/model.skops does not match its recorded sha256", file="run/"),
        FileNotFoundError(2, "No such file or directory", "missing.csv"),
        IsADirectoryError(21, "Is a directory", "somedir"),
    ],
)
def test_user_errors_become_one_line_and_exit_2(err, capsys):
    def fn():
        raise err

    code, stderr = _run(fn, capsys)
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert "Traceback" not in stderr


def test_message_content(capsys):
    def fn():
        raise RangeError("value -1 is outside", file="a.csv", batch="B1", column="ph", rows=[4])

    assert _run(fn, capsys)[1] == "error: a.csv: batch B1, column ph, row 4: value -1 is outside\n"

    def missing():
        open("/nonexistent/batches.csv")

    assert _run(missing, capsys)[1] == (
        "error: /nonexistent/batches.csv: no such file or directory\n"
    )


def test_keyboard_interrupt_exits_130(capsys):
    def fn():
        raise KeyboardInterrupt

    code, stderr = _run(fn, capsys)
    assert code == 130 and "Traceback" not in stderr


def test_bugs_keep_their_traceback():
    def fn():
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        cli_main(fn)


def test_debug_env_shows_user_error_traceback(monkeypatch):
    monkeypatch.setenv("FORECASTER_DEBUG", "1")

    def fn():
        raise ConfigError("bad")

    with pytest.raises(ConfigError):
        cli_main(fn)


def test_real_process_exit_code_and_stderr(tmp_path):
    bad = tmp_path / "new.csv"
    bad.write_text("batch_id,time_h,ph\nA,0,7\nA,1,19\n")
    code = (
        "from forecaster.cli import cli_main\n"
        "from forecaster.data.io import load_table\n"
        f"cli_main(lambda: load_table({str(bad)!r}) and None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: {bad}: batch A, column ph, line 3: value 19 is outside the physical range; "
        "expected 5.5 to 8.5 pH\n"
    )


def test_several_problems_of_a_file_print_as_one_block(capsys):
    import pytest

    from forecaster.cli import cli_main
    from forecaster.data.errors import DataError, combine

    def bad():
        raise combine(
            [DataError("column A: unit 'x' unknown"), DataError("column B: value 9 too high")],
            file="plant.csv",
        )

    with pytest.raises(SystemExit) as e:
        cli_main(bad)
    assert e.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: plant.csv") and len(err) == 3
    assert err[1].startswith("  - ") and "column B" in err[2]
