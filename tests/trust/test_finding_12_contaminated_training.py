"""Issue #14, finding 12: unlabelled faulty batches among the calibration batches are warned
about.

The trial's own-data example put 47 faulty batches among 120 training batches: the
autoencoder threshold came out at 803 instead of about 82, it never alarmed, and nothing
warned. The example now writes fault-free training batches
(``tests/predict/test_own_data.py``) and the warning's arithmetic is tested in
``tests/anomaly/test_trial_findings.py``; these fit a real detector on batches that hide
unlabelled aeration failures, as a user's export would, in both calibration modes.
"""

from __future__ import annotations

import warnings

import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig, AutoencoderConfig, CalibrationConfig
from forecaster.anomaly.fit import fit_detector
from forecaster.data.features import Preprocessor
from tests.anomaly.conftest import FAST_TRAINER, make_batch

NORMAL = {f"N{i}": make_batch(f"N{i}", n_hours=72, seed=i) for i in range(10)}


def _hidden(names: list[str]) -> dict[str, pd.DataFrame]:
    """Aeration failures from 30 h with their labels removed (nobody labelled them)."""
    return {
        b: make_batch(b, n_hours=72, seed=50 + k, do_fault_h=30.0).assign(
            **{schema.FAULT_LABEL: 0, schema.FAULT_TYPE: "none"}
        )
        for k, b in enumerate(names)
    }


def _fit(train: dict, val: dict, mode: str):
    prep = Preprocessor.fit(pd.concat(list(train.values())), list(schema.VARIABLE_NAMES))
    cfg = AnomalyConfig(
        autoencoder=AutoencoderConfig(window_h=4, hidden_size=8, latent_size=2, max_epochs=1),
        calibration=CalibrationConfig(mode=mode, folds=3),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det, _ = fit_detector(train, val, cfg, prep, seed=0, trainer_kwargs=dict(FAST_TRAINER))
    return det, [str(w.message) for w in caught if "may never alarm" in str(w.message)]


def _check(det, said: list[str], hidden: list[str]) -> None:
    assert said, "no warning about a contaminated calibration"
    warned = [cal for _, cal in det.scorers if cal.contamination_warning]
    assert warned  # it travels with the detector into the report and metrics.json
    for cal in warned:
        assert set(cal.suspect_batches) <= set(hidden)  # a named suspect is a faulty batch
        assert "\n" not in cal.contamination_warning


def test_holdout_calibration_on_batches_hiding_faults_is_warned_about():
    hidden = ["F1", "F2"]
    train = {b: NORMAL[b] for b in list(NORMAL)[:6]}
    val = {**{b: NORMAL[b] for b in list(NORMAL)[6:8]}, **_hidden(hidden)}
    _check(*_fit(train, val, "holdout"), hidden)


def test_out_of_fold_calibration_on_training_batches_hiding_a_fault_is_warned_about():
    """The own-data case: under 200 training batches calibration is out-of-fold, on the
    training batches themselves; one of eight hides an aeration failure."""
    hidden = ["F1"]
    train = {**{b: NORMAL[b] for b in list(NORMAL)[:7]}, **_hidden(hidden)}
    val = {b: NORMAL[b] for b in list(NORMAL)[7:]}
    _check(*_fit(train, val, "out_of_fold"), hidden)


def test_out_of_fold_calibration_on_good_batches_warns_of_nothing():
    train = {b: NORMAL[b] for b in list(NORMAL)[:8]}
    val = {b: NORMAL[b] for b in list(NORMAL)[8:]}
    det, said = _fit(train, val, "out_of_fold")
    assert not said and not any(cal.suspect_batches for _, cal in det.scorers)
