"""Errors in the pages are one line, never a traceback: run folders and unexpected failures."""

from __future__ import annotations

from dataclasses import replace

from forecaster.serve.app import state
from tests.app.conftest import texts


def test_an_incompatible_run_folder_is_one_line_on_every_page(app, app_dirs, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text('{"format_version": 99}')
    settings = replace(app_dirs, runs=tmp_path)
    for page in ("views/data.py", "views/batches.py", "views/batch.py", "views/compare.py"):
        at = app(page, app_settings=settings)
        assert not at.exception, page
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith("error: "), (page, errors)
        assert "manifest.json" in errors[0] and "not supported" in errors[0]
        assert "Traceback" not in texts(at)


def test_an_unexpected_failure_of_a_page_is_one_line(app, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(state, "predictions", boom)
    monkeypatch.delenv("FORECASTER_DEBUG", raising=False)
    at = app("views/batches.py")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "error: the Batches page failed (RuntimeError: boom second line); the server log has the details"
    ]
