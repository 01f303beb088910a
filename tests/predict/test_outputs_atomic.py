"""Outputs are all or nothing: an error while writing leaves --out exactly as it was."""

from __future__ import annotations

import pytest

from forecaster import schema
from forecaster.serve import dashboard
from forecaster.serve.outputs import safe_name, write_outputs
from forecaster.serve.predict import predict_table


@pytest.fixture(scope="module")
def result(loaded_run, new_table):
    t = new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001", "B0002"])]
    return predict_table(loaded_run, t, attributions=False)


def _snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_error_in_the_middle_leaves_out_unchanged(result, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_outputs(result, out, pictures=False)
    (out / "notes.txt").write_text("kept")
    before = _snapshot(out)
    calls = []
    real = dashboard.save_dashboard

    def fail_on_second(res, batch_id, path, **kw):
        calls.append(batch_id)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(res, batch_id, path, **kw)

    monkeypatch.setattr(dashboard, "save_dashboard", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(result, out, pictures=True)
    assert len(calls) == 2
    assert _snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_rewrite_replaces_outputs_keeps_other_files(result, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    (out / "predictions.csv").write_text("batch_id\nOLD\n")
    write_outputs(result, out, pictures=True, overwrite=True)
    assert (out / "notes.txt").read_text() == "kept"
    assert "OLD" not in (out / "predictions.csv").read_text()
    assert sorted(p.name for p in (out / "dashboards").iterdir()) == [
        "B0000.png",
        "B0001.png",
        "B0002.png",
    ]
    write_outputs(result, out, pictures=False)  # stale dashboards of the earlier call go
    assert not (out / "dashboards").exists()


def test_safe_names_are_unique_file_names():
    taken: set[str] = set()
    names = [safe_name(b, taken) for b in ["A/1", "A 1", "a_1", "../x", ""]]
    assert len(set(n.lower() for n in names)) == 5
    assert all("/" not in n and not n.startswith(".") and n for n in names)
