"""``--out`` is safe: checked before computing, a foreign folder needs --overwrite (and keeps
the user's files), one writer at a time, and the printed time covers everything."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from forecaster import schema
from forecaster.cli import cli_main
from forecaster.data.errors import DataError
from forecaster.serve import dashboard
from forecaster.serve import predict as predict_mod
from forecaster.serve.outputs import MANIFEST, out_lock


@pytest.fixture(scope="module")
def input_csv(new_table, tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "new.csv"
    new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001"])].to_csv(path, index=False)
    return path


def run_cli(argv, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as ex:
        cli_main(lambda: predict_mod.main([str(a) for a in argv]))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return ex.value.code, [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if predict gets as far as loading the run."""

    def boom(*args, **kwargs):
        raise AssertionError("predict started computing before checking --out")

    monkeypatch.setattr(predict_mod, "load_run", boom)


def _read_only_folder(tmp_path):
    """A folder this process cannot write into (chmod, or /sys when running as root)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        (ro / "probe").touch()
    except OSError:
        return ro
    (ro / "probe").unlink()
    if os.path.isdir("/sys") and _cannot_write("/sys"):
        return "/sys"
    pytest.skip("no read-only folder available (root without a read-only /sys)")


def _cannot_write(folder) -> bool:
    try:
        fd = os.open(os.path.join(folder, ".forecaster-probe"), os.O_CREAT | os.O_EXCL)
    except OSError:
        return True
    os.close(fd)
    os.unlink(os.path.join(folder, ".forecaster-probe"))
    return False


def test_read_only_out_fails_before_computing(tmp_path, input_csv, capsys, no_compute):
    parent = _read_only_folder(tmp_path)
    out = os.path.join(parent, "results")
    code, lines = run_cli(["--run", tmp_path, "--input", input_csv, "--out", out], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "results" in lines[0] and "cannot" in lines[0]
    assert not os.path.exists(out)


def test_foreign_folder_is_refused_before_computing(tmp_path, input_csv, capsys, no_compute):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, lines = run_cli(["--run", tmp_path, "--input", input_csv, "--out", out], capsys)
    assert code == 2 and len(lines) == 1
    assert str(out) in lines[0] and "--overwrite" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_overwrite_keeps_the_users_files(run_dir, tmp_path, input_csv, capsys):
    out = tmp_path / "out"
    (out / "dashboards").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "dashboards" / "my_plot.png").write_bytes(b"not ours")
    args = ["--run", run_dir, "--input", input_csv, "--out", out, "--no_attributions"]
    code, _ = run_cli([*args, "--overwrite"], capsys)
    assert code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "dashboards" / "my_plot.png").read_bytes() == b"not ours"
    assert {"B0000.png", "B0001.png"} <= {p.name for p in (out / "dashboards").iterdir()}
    manifest = json.loads((out / MANIFEST).read_text())
    assert "dashboards/B0000.png" in manifest["files"] and "notes.txt" not in manifest["files"]
    # predict's own folder now: no --overwrite needed; stale dashboards go, the user's stay
    code, _ = run_cli([*args, "--no_pictures"], capsys)
    assert code == 0
    assert sorted(p.name for p in (out / "dashboards").iterdir()) == ["my_plot.png"]
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no lock, no tmp


def test_a_second_writer_is_refused(tmp_path, input_csv, capsys, no_compute):
    out = tmp_path / "out"
    with out_lock(out):
        code, lines = run_cli(["--run", tmp_path, "--input", input_csv, "--out", out], capsys)
        assert code == 2 and len(lines) == 1
        assert "another predict is writing this folder" in lines[0]
        assert f"pid {os.getpid()}" in lines[0]
        assert (tmp_path / ".out.lock").exists()  # the holder's lock is left alone
    assert not (tmp_path / ".out.lock").exists()  # released by its holder


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    import socket

    lock = tmp_path / ".out.lock"
    lock.write_text(json.dumps({"pid": int(proc.stdout), "host": socket.gethostname()}))
    with out_lock(tmp_path / "out"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(DataError, match="not a folder"), out_lock(tmp_path / "out"):
        pass


def test_printed_time_includes_pictures(run_dir, tmp_path, input_csv, capsys, monkeypatch):
    real = dashboard.save_dashboard

    def slow(*args, **kwargs):
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(dashboard, "save_dashboard", slow)
    start = time.perf_counter()
    code, lines = run_cli(
        ["--run", run_dir, "--input", input_csv, "--out", tmp_path / "o", "--no_attributions"],
        capsys,
    )
    wall = time.perf_counter() - start
    assert code == 0
    seconds = float(re.search(r" in ([0-9.]+) s ", lines[-1]).group(1))
    assert seconds >= 3.0 and seconds <= wall + 0.1
