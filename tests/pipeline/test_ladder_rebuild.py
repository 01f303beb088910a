"""Re-running only the ladder of a finished run: into a copy, never into the run itself, with
the same choice as training made when nothing changed, and a copy that loads like a run."""

from __future__ import annotations

import json

import pytest

from forecaster.data.errors import RunFolderError
from forecaster.pipeline.ladder_rebuild import rebuild_ladder


def test_the_run_folder_itself_or_a_folder_inside_it_is_refused(tmp_path):
    run_dir = tmp_path  # the guard comes before anything is read
    for dest in (run_dir, run_dir / "rebuilt"):
        with pytest.raises(RunFolderError, match="outside the run folder"):
            rebuild_ladder(run_dir, dest)
    assert not (run_dir / "rebuilt").exists()


def test_a_folder_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("keep")
    with pytest.raises(RunFolderError, match="not empty"):
        rebuild_ladder(tmp_path / "run", tmp_path)
    assert (tmp_path / "x.txt").read_text() == "keep"


@pytest.mark.slow  # re-simulates the run's batches and re-runs its ladder (~15 s on 2 cores)
def test_rebuilt_copy_serves_the_same_choice_and_loads(run_dir, tmp_path):
    from forecaster.serve.run_folder import load_run

    before = (run_dir / "forecast" / "chosen.json").read_bytes()
    info = rebuild_ladder(run_dir, tmp_path / "copy")
    assert (run_dir / "forecast" / "chosen.json").read_bytes() == before  # untouched
    old, new = json.loads(before), json.loads((tmp_path / "copy/forecast/chosen.json").read_text())
    assert new["weights"] == old["weights"] and new["calibration"] == old["calibration"]
    assert info["rung_by_day"] == old["rung_by_day"]
    run = load_run(tmp_path / "copy")  # the manifest was re-hashed
    assert run.choice is not None and run.choice.chosen.rung_by_day == old["rung_by_day"]
