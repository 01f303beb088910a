"""Streamlit pieces shared by the pages: the error line, the training job, guards."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from forecaster.cli import debug_mode, error_line
from forecaster.data.errors import DataError
from forecaster.serve.app import state
from forecaster.serve.app.jobs import TrainJob, train_command

#: what the command line reports as one line (the same set as ``forecaster.cli.cli_main``)
USER_ERRORS = (DataError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError)  # fmt: skip


def show_error(err: BaseException) -> None:
    """The command line's one-line message, in a red box (never a traceback)."""
    st.error(f"error: {error_line(err)}")


def show_unexpected(err: Exception, page: str) -> None:
    """An unexpected failure of a page as one line; the traceback goes to the server log only.

    ``FORECASTER_DEBUG=1`` re-raises instead (Streamlit then shows the traceback).
    """
    if debug_mode():
        raise err
    logging.getLogger("forecaster.app").exception("the %s page failed", page)
    st.error(f"error: the {page} page failed ({type(err).__name__}: {error_line(err)}); "
             "the server log has the details")  # fmt: skip


def run_or_stop():
    """The loaded run; else an explanation, and the page stops."""
    try:
        run = state.loaded_run()
    except USER_ERRORS as err:
        show_error(err)
        st.stop()
    if run is None:
        st.info(
            f"No run folder under `{state.settings().runs}` yet: make one on the **Train** page."
        )
        st.stop()
    return run


def predictions_or_stop():
    """(run, Predictions of the chosen data); else an explanation, and the page stops."""
    run = run_or_stop()
    path = state.data_path()
    if path is None:
        st.info("No data chosen yet: pick or upload a batch table on the **Data** page.")
        st.stop()
    try:
        res = state.predictions(run, path)
    except USER_ERRORS as err:
        show_error(err)
        st.stop()
    if res.predictions.empty:
        st.warning(f"No batch of `{path.name}` could be predicted ({len(res.problems)} skipped: "
                   "see the Data page).")  # fmt: skip
        st.stop()
    return run, res


@st.cache_resource
def _jobs() -> dict[str, TrainJob]:
    """One training job per runs folder, shared by every session of this server."""
    return {}


def job_panel(config: Path, run_name: str = "", label: str = "Train", key: str = "job") -> None:
    """A button that trains ``config`` into the runs folder, and the job's live output."""
    runs = state.settings().runs
    jobs = _jobs()
    job = jobs.get(str(runs))
    busy = job is not None and job.running
    if st.button(label, key=f"{key}_start", disabled=busy or not config.is_file(), type="primary"):
        runs.mkdir(parents=True, exist_ok=True)
        jobs[str(runs)] = job = TrainJob.start(train_command(config, runs, run_name))
        st.session_state["job_seen"] = False
    if not config.is_file():
        st.caption(f"`{config}` not found.")
    if job is not None:
        st.fragment(_job_view, run_every=1.0 if job.running else None)(job, key)


def _job_view(job: TrainJob, key: str) -> None:
    cmd = " ".join(job.command[1:])
    if job.running:
        with st.status(f"Training ({job.seconds:.0f} s): `{cmd}`", expanded=True):
            st.progress(job.progress, text=next((x for x in reversed(job.lines) if x.startswith("[")),
                                                "starting ..."))  # fmt: skip
            ep = job.epoch
            if ep is not None:
                n, total, losses = ep
                text = (
                    f"epoch {n}"
                    + (f" of {total}" if total else "")
                    + "".join(f" · {k} {v:.4g}" for k, v in losses.items())
                )
                st.progress(min(n / total, 1.0) if total else 0.0, text=text)
            st.code("\n".join(job.lines[-12:]) or "starting ...", language=None)
            if st.button("Stop training", key=f"{key}_stop"):
                job.stop()
        return
    if job.returncode == 0:
        folder = job.run_folder()
        st.success(f"Training finished in {job.seconds:.0f} s: run folder `{folder}`.")
    else:
        last = job.lines[-1] if job.lines else ""
        st.error(f"Training stopped (exit code {job.returncode}): {last}")
    with st.expander("Training output"):
        st.code("\n".join(job.lines[-200:]), language=None)
    if not st.session_state.get("job_seen", True):  # once: refresh the run lists
        st.session_state["job_seen"] = True
        st.rerun(scope="app")
