"""New data on the row spacing the run was trained on (the run's ``cadence.json``)."""

from __future__ import annotations

import pandas as pd

__all__ = ["on_trained_grid"]


def on_trained_grid(run, table: pd.DataFrame) -> pd.DataFrame:
    """New rows on the run's row spacing: finer rows are resampled onto it; coarser rows
    raise a DataError naming both cadences (the run's ``cadence.json``; older runs: as is)."""
    trained = getattr(run, "cadence", None)
    if trained is None or table.empty:
        return table
    from forecaster.data.resample import resample
    from forecaster.data.time_grid import check_cadence, detect_cadence

    if check_cadence(trained, detect_cadence(table)) == "same":
        return table
    out = resample(table, trained.row_h, process=run.process)
    out.attrs = dict(table.attrs)
    return out
