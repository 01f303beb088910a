"""The anomaly stage in a second process gives the same run as in one process."""

import contextlib
import json
import multiprocessing as mp
import sys
import threading
import time
import types
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecaster.data.errors import ConfigError
from forecaster.pipeline.config import parse_config
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.side_stage import AUTO_MIN_BATCHES, SideStage, _bare_main, runs_beside
from forecaster.pipeline.train import run
from tests.predict.conftest import TRAIN_ARGS


def _ctx(mode, n_batches, accelerator="cpu", devices="auto", anomaly=True):
    trainer = SimpleNamespace(parallel_stages=mode, accelerator=accelerator, devices=devices,
                              num_nodes=1)  # fmt: skip
    cfg = SimpleNamespace(trainer=trainer, anomaly=SimpleNamespace(enabled=anomaly))
    table = pd.DataFrame({"batch_id": [f"B{i}" for i in range(n_batches)]})
    return SimpleNamespace(cfg=cfg, table=table)


def test_when_the_anomaly_stage_goes_to_a_second_process(monkeypatch):
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 2)
    assert runs_beside(_ctx("auto", AUTO_MIN_BATCHES))
    assert not runs_beside(_ctx("auto", AUTO_MIN_BATCHES - 1))  # small: not worth a process
    assert runs_beside(_ctx(True, 3)) and runs_beside(_ctx("true", 3))
    assert not runs_beside(_ctx(False, 500)) and not runs_beside(_ctx("false", 500))
    assert not runs_beside(_ctx("true", 500, accelerator="gpu"))
    assert not runs_beside(_ctx("true", 500, devices=4))
    assert not runs_beside(_ctx("true", 500, anomaly=False))
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 1)
    assert not runs_beside(_ctx("true", 500))
    with pytest.raises(ConfigError, match="expected auto, true or false"):
        runs_beside(_ctx("sometimes", 500))


def test_second_processes_give_the_same_anomaly_and_attribution_results_and_report(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("forecaster.pipeline.side_stage.available_cores", lambda: 2)
    runs = {}
    for mode in ("true", "false"):
        cfg, text = parse_config([*TRAIN_ARGS, "--output_dir", str(tmp_path), "--run_name", mode,
                                  "--trainer.parallel_stages", mode, "--explain.enabled", "true",
                                  "--explain.targets", "[titer]"])  # fmt: skip
        runs[mode] = run(cfg, text, log=lambda *_: None)
    (par_dir, par), (one_dir, one) = runs["true"], runs["false"]
    assert "anomaly_wait_s" in par["timing"] and "explain_wait_s" in par["timing"]
    assert "anomaly_wait_s" not in one["timing"] and "explain_wait_s" not in one["timing"]
    for key in ("anomaly", "attribution"):
        a, b = dict(par[key]), dict(one[key])
        for d in (a, b):
            d.pop("seconds", None)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), key
    drop = ("# Run report", "- Total time")
    lines = [
        [x for x in (d / "report.md").read_text().splitlines() if not x.startswith(drop)]
        for d in (par_dir, one_dir)
    ]
    assert lines[0] == lines[1]
    assert sorted(p.name for p in (par_dir / "explain").iterdir()) == sorted(
        p.name for p in (one_dir / "explain").iterdir()
    )


def _crashing_main(tmp_path: Path, monkeypatch) -> types.ModuleType:
    """Make ``__main__`` a script that fails when run again (as an app page left as
    ``__main__`` by Streamlit's test runner did, which hung the test suite)."""
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('this script must not run again in the child')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    return main


def test_the_second_process_does_not_run_the_parents_main_script_again(tmp_path, monkeypatch):
    main = _crashing_main(tmp_path, monkeypatch)
    spawn = mp.get_context("spawn")
    unguarded = spawn.Process(target=time.sleep, args=(0,))
    unguarded.start()
    unguarded.join(60)
    assert unguarded.exitcode == 1  # what spawn does by itself: runs page.py, which fails
    proc = spawn.Process(target=time.sleep, args=(0,))
    with _bare_main():
        proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert sys.modules["__main__"] is main  # put back


def test_a_second_process_that_dies_at_start_is_an_error_not_a_hang(tmp_path, monkeypatch):
    _crashing_main(tmp_path, monkeypatch)
    monkeypatch.setattr("forecaster.pipeline.side_stage._bare_main", contextlib.nullcontext)
    big = pd.DataFrame({"x": np.zeros(2_000_000)})  # more than a pipe holds: send must fail
    ctx = RunContext(cfg=None, run_dir=tmp_path, table=big, faults=big.iloc[:0], splits={},
                     prep=None, seed=0, writer=None, trainer_kwargs={})  # fmt: skip
    errors: list[BaseException] = []

    def start_and_join() -> None:
        try:
            SideStage(ctx, {}).join()
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=start_and_join, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the run hung on a second process that had died"
    assert len(errors) == 1 and "anomaly stage's process ended" in str(errors[0])


def test_a_stage_whose_process_cannot_start_runs_in_this_process(monkeypatch):
    from forecaster.pipeline import train

    def fails(*_, **__):
        raise RuntimeError("the anomaly stage's process ended before it started (exit code 1)")

    monkeypatch.setattr(train, "SideStage", fails)
    sides, lines = {}, []
    train._start_beside(sides, "anomaly", None, {}, lines.append)
    assert sides == {}  # so the stage loop runs it here
    assert lines == [
        "warning: the anomaly stage's process ended before it started (exit code 1); "
        "the anomaly stage runs in this process instead"
    ]
