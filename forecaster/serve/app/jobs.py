"""A training command in a subprocess: its output lines as they come and its progress.

The app starts ``python -m forecaster train --config FILE --output_dir RUNS`` (the same as
``train.py``) and shows the lines while it runs; a thread reads the output, so the page
never blocks and a rerun of the page finds the job where it was::

    job = TrainJob.start(train_command("configs/quickstart.yaml", "checkpoints"))
    job.lines[-5:], job.progress, job.returncode
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TrainJob", "train_command"]

#: train.py's stage lines: ``[3/6] RandomForest baseline ...``
_STAGE = re.compile(r"^\s*\[(\d+)/(\d+)\]")
#: Lightning's progress-bar line: ``Epoch 3/19: 50%|... train_loss=0.412, val_loss=0.5]``
_EPOCH = re.compile(r"Epoch (\d+)(?:/(\d+))?\b")
_LOSS = re.compile(r"\b(\w*loss\w*)=(-?[\d.]+(?:e[-+]?\d+)?)")
#: lines kept in memory (the oldest are dropped)
MAX_LINES = 2000


def train_command(
    config: str | os.PathLike, runs: str | os.PathLike, run_name: str = ""
) -> list[str]:
    """The command line that trains ``config`` into the folder ``runs``."""
    cmd = [sys.executable, "-m", "forecaster", "train", "--config", str(config),
           "--output_dir", str(runs)]  # fmt: skip
    if run_name:
        cmd += ["--run_name", run_name]
    return cmd


@dataclass
class TrainJob:
    """One running (or finished) command and what it printed.

    Attributes:
        command: the command line.
        lines: its stdout and stderr lines so far (``\\r`` progress updates become lines).
        started: ``time.time()`` at start.
        returncode: None while running.
        ended: ``time.time()`` when its output ended.
    """

    command: list[str]
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    returncode: int | None = None
    ended: float | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def start(cls, command: Sequence[str], cwd: str | os.PathLike | None = None) -> TrainJob:
        """Start ``command`` with its output piped into :attr:`lines`."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        job = cls(list(command))
        job._proc = subprocess.Popen(
            job.command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1,
        )  # fmt: skip
        threading.Thread(target=job._read, daemon=True).start()
        return job

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:  # text mode: "\r" (progress bars) also ends a line
            if line.strip():
                self.lines.append(line.rstrip())
                del self.lines[:-MAX_LINES]
        self.ended = time.time()
        self.returncode = self._proc.wait()

    @property
    def running(self) -> bool:
        """True until the command has exited and its output is read."""
        return self.returncode is None

    @property
    def progress(self) -> float:
        """Fraction done from the last ``[k/n]`` stage line (1.0 once finished)."""
        if not self.running:
            return 1.0
        for line in reversed(self.lines):
            m = _STAGE.match(line)
            if m:
                return min(max(int(m.group(1)) - 1, 0) / max(int(m.group(2)), 1), 1.0)
        return 0.0

    @property
    def epoch(self) -> tuple[int, int | None, dict[str, float]] | None:
        """(epoch from 1, epochs in all or None, losses shown) of the last epoch line.

        Read from Lightning's progress-bar lines (``trainer.enable_progress_bar: true``);
        None when the output has none.
        """
        for line in reversed(self.lines[-200:]):
            m = _EPOCH.search(line)
            if m:
                total = int(m.group(2)) + 1 if m.group(2) else None
                return int(m.group(1)) + 1, total, {k: float(v) for k, v in _LOSS.findall(line)}
        return None

    @property
    def seconds(self) -> float:
        """Seconds from start to the end (or to now while running)."""
        return (self.ended or time.time()) - self.started

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the command has exited and its output is read; its exit code."""
        end = None if timeout is None else time.time() + timeout
        while self.running and (end is None or time.time() < end):
            time.sleep(0.05)
        return self.returncode

    def stop(self) -> None:
        """Terminate the command (its partial run folder is left for ``--resume``)."""
        if self._proc is not None and self.running:
            self._proc.terminate()

    def run_folder(self) -> Path | None:
        """The run folder named in train.py's last line (``run folder: PATH ...``)."""
        for line in reversed(self.lines):
            if line.startswith("run folder: "):
                return Path(line[len("run folder: ") :].split("   ")[0].strip())
        return None
