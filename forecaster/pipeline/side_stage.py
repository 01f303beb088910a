"""The anomaly stage in a second process, beside the forecaster's training, on CPU.

The anomaly detector needs nothing the forecaster learns (only the data, the splits and the
preprocessing), and every network here trains on one torch thread. On a machine with two
or more cores the run therefore starts the anomaly stage in a second process right after
the data are loaded, trains the forecaster (then the RandomForest and the ladder) in this
one, and collects the anomaly results where the stage used to run. The results are the
same as in one process: the stage seeds itself, and its report section keeps its place.

It runs in one process (as before) when ``trainer.parallel_stages`` is false (or ``auto``
with fewer than :data:`AUTO_MIN_BATCHES` batches: the second process takes about 10 s to
start), when the run trains on a GPU or on several devices (those have their own
parallelism), or when only one core is available.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
import traceback
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

from forecaster import schema
from forecaster.pipeline.context import RunContext
from forecaster.threads import available_cores

__all__ = ["AUTO_MIN_BATCHES", "SideStage", "runs_beside"]

#: ``parallel_stages: auto`` uses a second process from this many batches in the run
AUTO_MIN_BATCHES = 50


def runs_beside(ctx: RunContext) -> bool:
    """Whether the anomaly stage of ``ctx``'s run goes in a second process."""
    t = ctx.cfg.trainer
    mode = str(getattr(t, "parallel_stages", "false")).strip().lower()
    if mode not in ("auto", "true", "false"):
        from forecaster.data.errors import ConfigError

        raise ConfigError(f"trainer.parallel_stages: {mode!r}; expected auto, true or false")
    if mode == "false" or not ctx.cfg.anomaly.enabled:
        return False
    if mode == "auto" and ctx.table[schema.BATCH_ID].nunique() < AUTO_MIN_BATCHES:
        return False
    if available_cores() < 2 or str(t.devices) not in ("1", "auto") or int(t.num_nodes) != 1:
        return False
    if t.accelerator == "cpu":
        return True
    if t.accelerator != "auto":
        return False
    import torch

    return not torch.cuda.is_available() and not torch.backends.mps.is_available()


class SideStage:
    """A stage running in a spawned process; :meth:`join` returns its results.

    Args:
        ctx: the run context (its writer, forecaster and RF are not sent).
        trainer_kwargs: Lightning settings for the stage (one device).
        stage: ``anomaly`` (needs only the data), or ``explain`` (loads the forecaster and
            the RandomForest the main process saved in the run folder).
    """

    def __init__(
        self, ctx: RunContext, trainer_kwargs: dict[str, Any], stage: str = "anomaly"
    ) -> None:
        if stage not in ("anomaly", "explain"):
            raise ValueError(f"side stage {stage!r}; expected anomaly or explain")
        skip = {"writer", "forecaster", "rf", "rf_fit_batches", "report"}
        state = {f.name: getattr(ctx, f.name) for f in fields(ctx) if f.name not in skip}
        state["trainer_kwargs"] = dict(trainer_kwargs)
        self.stage = stage
        context = mp.get_context("spawn")  # no fork: torch and Lightning are loaded here
        self._conn, child = context.Pipe(duplex=True)
        self._proc = context.Process(target=_child, args=(child, stage), daemon=True)
        with _bare_main():
            self._proc.start()
        child.close()
        try:  # after start, so a child that dies early breaks the pipe instead of hanging
            self._conn.send((state, ctx.rf is not None))
        except OSError as exc:  # BrokenPipeError, ConnectionResetError
            self._proc.join(timeout=10)
            raise RuntimeError(
                f"the {self.stage} stage's process ended before it started "
                f"(exit code {self._proc.exitcode}): {exc}"
            ) from None

    def join(self) -> tuple[dict, list[str], float]:
        """Wait for the stage; returns ``(metrics["anomaly"], report sections, seconds)``.

        Raises:
            the stage's own exception (same type when it can be rebuilt), or RuntimeError
            when the process ended without a result.
        """
        try:
            msg = self._conn.recv()
        except EOFError:
            self._proc.join()
            raise RuntimeError(
                f"the {self.stage} stage's process ended without a result "
                f"(exit code {self._proc.exitcode}); run with --trainer.parallel_stages false "
                "to see its error in this process"
            ) from None
        self._proc.join()
        if msg[0] == "error":
            _, exc, text = msg
            if isinstance(exc, BaseException):
                raise exc
            raise RuntimeError(f"the {self.stage} stage failed in its process:\n{text}")
        _, result, report, seconds = msg
        return result, report, seconds

    def stop(self) -> None:
        """End the process if it still runs (the main stages failed)."""
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=10)


@contextmanager
def _bare_main() -> Iterator[None]:
    """Start a spawned process without re-running this process's ``__main__``.

    ``spawn`` runs the parent's main script again in the child (as ``__mp_main__``) unless
    it is a module run with ``-m``. The child needs nothing from it (its target lives in
    this module), and re-running it can fail or do work: a script without a
    ``if __name__ == "__main__"`` guard, a notebook, or an app page left as ``__main__``.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _child(conn: Connection, stage: str) -> None:
    """Receive the run's state, run ``stage`` on it and send its results (or its error)."""
    try:
        state, with_rf = conn.recv()
        from torch.utils.tensorboard import SummaryWriter

        from forecaster.threads import set_threads

        set_threads(state["cfg"].trainer.threads)
        ctx = RunContext(**state)
        ctx.writer = SummaryWriter(str(ctx.run_dir / "tb" / "summary"), filename_suffix=f".{stage}")
        start = time.perf_counter()
        try:
            if stage == "anomaly":
                from forecaster.pipeline.anomaly_stage import run_anomaly_stage

                result = run_anomaly_stage(ctx)
            else:
                from forecaster.models.baseline import RFBaseline
                from forecaster.models.sequence import SequenceForecaster
                from forecaster.pipeline.explain_stage import run_explain_stage

                ctx.forecaster = SequenceForecaster.load(ctx.run_dir / "forecast" / "model.pt")
                ctx.rf = RFBaseline.load(ctx.run_dir / "rf") if with_rf else None
                result = run_explain_stage(ctx)
        finally:
            ctx.writer.close()
        conn.send(("ok", result, list(ctx.report), time.perf_counter() - start))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the run
        text = traceback.format_exc()
        try:
            conn.send(("error", exc, text))
        except Exception:  # the exception itself does not pickle
            conn.send(("error", None, text))
    finally:
        conn.close()
