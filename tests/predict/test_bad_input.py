"""Every bad input: one line naming the place, exit code 2, no traceback, --out untouched."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest

from forecaster import schema
from forecaster.cli import cli_main
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import UnknownUnitError
from forecaster.serve.outputs import MANIFEST
from forecaster.serve.predict import MIN_ROWS, main, read_for_run


@pytest.fixture(scope="module")
def good(new_table) -> pd.DataFrame:
    return new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001", "B0002"])].reset_index(
        drop=True
    )


def run_cli(argv, capsys) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as ex:
        cli_main(lambda: main([str(a) for a in argv]))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return ex.value.code, [line for line in err.splitlines() if line.strip()]


def snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def old_out(tmp_path):
    """An --out folder holding the results of an earlier call (and a file of the user's)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("batch_id\nOLD\n")
    (out / MANIFEST).write_text(json.dumps({"files": ["predictions.csv"]}))
    (out / "notes.txt").write_text("mine")
    return out


def expect_error(argv, capsys, out, *fragments):
    before = snapshot(out) if out.exists() else None
    code, lines = run_cli([*argv, "--out", out], capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert (snapshot(out) if out.exists() else None) == before
    assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]
    return lines[0]


def _write(table: pd.DataFrame, path) -> str:
    table.to_csv(path, index=False)
    return str(path)


# ---------------------------------------------------------------- whole-file errors
def test_misspelt_column_suggests_the_closest(run_dir, good, tmp_path, capsys, old_out):
    path = _write(good.rename(columns={"glucose_g_L": "glucose_gL"}), tmp_path / "x.csv")
    expect_error(
        ["--run", run_dir, "--input", path],
        capsys,
        old_out,
        "x.csv",
        "glucose_g_L",
        "did you mean 'glucose_gL'",
    )


def test_missing_variable_says_how_to_drop_it(run_dir, good, tmp_path, capsys, old_out):
    path = _write(good.drop(columns=["ammonia_mM"]), tmp_path / "x.csv")
    expect_error(
        ["--run", run_dir, "--input", path],
        capsys,
        old_out,
        "ammonia_mM",
        "exclude_inputs: [ammonia_mM]",
    )


def test_entirely_empty_column(run_dir, good, tmp_path, capsys, old_out):
    path = _write(good.assign(lactate_g_L=float("nan")), tmp_path / "x.csv")
    expect_error(
        ["--run", run_dir, "--input", path], capsys, old_out, "column lactate_g_L", "no values"
    )


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (b"PK\x03\x04" + bytes(300), "workbook"),
        (b"\x00\x01\x02garbage" * 20, "binary"),
    ],
    ids=["empty", "xlsx", "binary"],
)
def test_empty_file_or_not_a_table(run_dir, tmp_path, capsys, old_out, content, fragment):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    expect_error(["--run", run_dir, "--input", path], capsys, old_out, "x.csv", fragment)


def test_missing_input_file(run_dir, tmp_path, capsys, old_out):
    expect_error(["--run", run_dir, "--input", tmp_path / "nope.csv"], capsys, old_out, "nope.csv")


def test_unknown_unit_in_column_map(loaded_run, good, tmp_path):
    path = _write(good, tmp_path / "x.csv")
    bad = replace(loaded_run, column_map=ColumnMap(units={"glucose_g_L": "furlongs"}))
    with pytest.raises(UnknownUnitError, match="unknown unit 'furlongs' for glucose_g_L"):
        read_for_run(bad, path)


# ------------------------------------------------------------------ run folder errors
@pytest.fixture
def run_copy(run_dir, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns("tb", "*.ckpt", "figures"))
    return dst


def _break_manifest(run):
    (run / "manifest.json").unlink()


def _old_version(run):
    m = json.loads((run / "manifest.json").read_text())
    m["format_version"] = 99
    (run / "manifest.json").write_text(json.dumps(m))


def _tamper(run):
    p = run / "forecast" / "model.pt"
    data = bytearray(p.read_bytes())
    data[-10] ^= 0xFF
    p.write_bytes(bytes(data))


def _drop_detector(run):
    shutil.rmtree(run / "anomaly")


@pytest.mark.parametrize(
    "breaker, fragment",
    [(_break_manifest, "training did not finish"), (_old_version, "v99 is not supported"),
     (_tamper, "changed after training"), (_drop_detector, "is missing")],
    ids=["incomplete", "version", "checksum", "missing-file"],
)  # fmt: skip
def test_bad_run_folder(run_copy, good, tmp_path, capsys, old_out, breaker, fragment):
    breaker(run_copy)
    path = _write(good, tmp_path / "x.csv")
    expect_error(["--run", run_copy, "--input", path], capsys, old_out, fragment)


# ------------------------------------------------------------------- per-batch errors
def _text_cell(t):
    t = t.astype({"ph": object})
    t.loc[t.index[(t.batch_id == "B0001")][5], "ph"] = "7,1x"
    return t


def _duplicate_time(t):
    i = t.index[t.batch_id == "B0001"][10]
    return pd.concat([t.loc[:i], t.loc[[i]], t.loc[i + 1 :]], ignore_index=True)


def _decreasing_time(t):
    t = t.copy()
    t.loc[t.index[t.batch_id == "B0001"][10], "time_h"] = 3.5
    return t


def _short(t):
    b1 = t.index[t.batch_id == "B0001"]
    return t.drop(index=b1[MIN_ROWS - 1 :]).reset_index(drop=True)


def _out_of_range(t):
    t = t.copy()
    t.loc[t.index[t.batch_id == "B0001"][20], "viability_pct"] = 130.0
    return t


def _dense_empty_in_batch(t):
    t = t.copy()
    t.loc[t.batch_id == "B0001", "do_pct"] = float("nan")
    return t


CASES = {
    # B0000 has 193 rows, so the 6th row of B0001 is line 200 of the file (header = line 1)
    "non-numeric": (_text_cell, ["column ph", "'7,1x'", "line 200"]),
    "duplicated-time": (_duplicate_time, ["column time_h", "appears twice"]),
    "decreasing-time": (_decreasing_time, ["time goes back to 3.5"]),
    "too-short": (_short, ["too few rows", f"at least {MIN_ROWS}"]),
    "out-of-range": (_out_of_range, ["column viability_pct", "130", "physical range"]),
    "empty-in-batch": (_dense_empty_in_batch, ["column do_pct", "no value in this batch"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_batch_is_skipped_and_others_predicted(run_dir, good, tmp_path, capsys, case):
    make, fragments = CASES[case]
    path = _write(make(good), tmp_path / "x.csv")
    out = tmp_path / "out"
    code, lines = run_cli(
        ["--run", run_dir, "--input", path, "--out", out, "--no_pictures", "--no_attributions"],
        capsys,
    )
    assert code == 0
    skipped = [line for line in lines if line.startswith("skipped: ")]
    assert len(skipped) == 1 and "x.csv" in skipped[0] and "batch B0001" in skipped[0], lines
    for f in fragments:
        assert f in skipped[0], (f, skipped[0])
    pred = pd.read_csv(out / "predictions.csv", dtype={"batch_id": str})
    assert sorted(pred.batch_id) == ["B0000", "B0002"]
    problems = pd.read_csv(out / "problems.csv", dtype={"batch_id": str})
    assert problems.batch_id.tolist() == ["B0001"]
    assert "B0001" in (out / "report.md").read_text().split("## Skipped batches")[1]


@pytest.mark.parametrize("case", ["non-numeric", "out-of-range"])
def test_strict_fails_and_writes_nothing(run_dir, good, tmp_path, capsys, old_out, case):
    make, fragments = CASES[case]
    path = _write(make(good), tmp_path / "x.csv")
    expect_error(
        ["--run", run_dir, "--input", path, "--strict"], capsys, old_out, "batch B0001", *fragments
    )


def test_all_batches_bad_exits_2_and_writes_nothing(run_dir, good, tmp_path, capsys, old_out):
    path = _write(good.assign(viability_pct=150.0), tmp_path / "x.csv")
    before = snapshot(old_out)
    code, lines = run_cli(["--run", run_dir, "--input", path, "--out", old_out], capsys)
    assert (
        code == 2 and lines[-1].startswith("error: ") and "no batch could be predicted" in lines[-1]
    )
    assert sum(line.startswith("skipped: ") for line in lines) == 3
    assert snapshot(old_out) == before
