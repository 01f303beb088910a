"""Cadence detection and the trained-vs-new comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.errors import DataError
from forecaster.data.time_grid import Cadence, check_cadence, detect_cadence


def _table(step_h: float, assay_every: int = 4) -> pd.DataFrame:
    rows = []
    for b in ("A", "B"):
        for i in range(12):
            rows.append({"batch_id": b, "time_h": i * step_h,
                         "titer": 1.0 * i if i % assay_every == 0 else np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_detects_row_and_assay_cadence():
    got = detect_cadence(_table(0.25), assays=["titer"])
    assert got.row_h == pytest.approx(0.25) and got.assay_h["titer"] == pytest.approx(1.0)
    assert Cadence.from_dict(got.to_dict()) == got


def test_same_finer_and_coarser():
    hourly = detect_cadence(_table(1.0))
    assert check_cadence(hourly, detect_cadence(_table(1.2))) == "same"
    assert check_cadence(hourly, detect_cadence(_table(0.25))) == "resample"
    with pytest.raises(DataError, match="every 12 h but the run was trained on rows every 1 h"):
        check_cadence(hourly, detect_cadence(_table(12.0)))
