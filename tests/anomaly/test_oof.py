"""Out-of-fold calibration on tiny data: the threshold is set on scores of batches the
scorer did not see, and the report gives the target beside the measured held-out rate."""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster import schema
from forecaster.anomaly.config import AnomalyConfig, AutoencoderConfig, CalibrationConfig
from forecaster.anomaly.fit import fit_detector
from forecaster.anomaly.oof import n_folds, resolve_mode
from forecaster.anomaly.pca import PCAScorer
from forecaster.anomaly.scorer import ScorerInput, rows_to_arrays
from forecaster.anomaly.threshold import calibrate
from forecaster.data.features import Preprocessor
from forecaster.pipeline.anomaly_report import calibration_note, training_notes
from tests.anomaly.conftest import FAST_TRAINER, make_table

TRAIN = [f"N{i:03d}" for i in range(8)]
VAL = [f"N{i:03d}" for i in range(8, 11)]


@pytest.fixture(scope="module")
def fitted():
    table, _ = make_table(11, n_hours=72)
    groups = {str(b): g.reset_index(drop=True) for b, g in table.groupby(schema.BATCH_ID)}
    train, val = {b: groups[b] for b in TRAIN}, {b: groups[b] for b in VAL}
    prep = Preprocessor.fit(table[table[schema.BATCH_ID].isin(TRAIN)], list(schema.VARIABLE_NAMES))
    cfg = AnomalyConfig(
        autoencoder=AutoencoderConfig(window_h=4, hidden_size=8, latent_size=2, max_epochs=1)
    )
    det, info = fit_detector(train, val, cfg, prep, seed=0, trainer_kwargs=dict(FAST_TRAINER))
    return det, info, train, val, cfg


def _input(det, rows):
    raw = rows_to_arrays(rows)
    return ScorerInput(raw[schema.TIME], raw, det.spec.features(det.prep, raw))


def test_mode_is_automatic_by_training_batch_count():
    c = CalibrationConfig()
    assert resolve_mode(c, 20) == "out_of_fold" and resolve_mode(c, 500) == "holdout"
    assert resolve_mode(CalibrationConfig(mode="holdout"), 20) == "holdout"
    assert resolve_mode(c, 2) == "holdout" and n_folds(c, 4) == 3 and n_folds(c, 40) == 5
    with pytest.raises(ValueError, match="anomaly.calibration.mode"):
        CalibrationConfig(mode="loo")


def test_threshold_is_set_on_scores_of_batches_the_scorer_did_not_see(fitted):
    det, info, train, val, cfg = fitted
    assert info["calibration_mode"] == "out_of_fold" and info["calibration_folds"] == 5
    _, cal = det.get("pca")
    assert cal.mode == "out_of_fold" and cal.n_batches == len(TRAIN)
    unseen = cal.scored_by_model_without
    assert sorted(unseen) == TRAIN and all(b in unseen[b] for b in TRAIN)
    # the held-out groups partition the training batches (one model per fold)
    groups = {tuple(v) for v in unseen.values()}
    assert sorted(b for g in groups for b in g) == TRAIN and len(groups) == 5
    # refit one PCA per fold without its batches: the same threshold comes out
    x = {b: _input(det, r) for b, r in {**train, **val}.items()}
    series = {}
    for held in groups:
        s = PCAScorer.from_config(cfg.pca, det.spec)
        s.fit([x[b] for b in TRAIN if b not in held], [x[b] for b in VAL], seed=0)
        series.update({b: (x[b].t_h, s.score(x[b]).score) for b in held})
    again = calibrate([series[b] for b in TRAIN], cfg.pca.threshold)
    assert again.threshold == pytest.approx(cal.threshold)
    # ...and not the one the in-sample scores would give
    pca = det.get("pca")[0]
    in_sample = calibrate([(x[b].t_h, pca.score(x[b]).score) for b in TRAIN], cfg.pca.threshold)
    assert in_sample.threshold != pytest.approx(cal.threshold)


def test_report_gives_target_and_measured_heldout_rate(fitted):
    det, _, _, val, _ = fitted
    _, cal = det.get("pca")
    assert cal.heldout_batches == len(VAL) and cal.heldout_rate_per_100_batch_days is not None
    assert cal.heldout_batch_days == pytest.approx(len(VAL) * 3.0)
    note = calibration_note("pca", cal)
    assert f"target {cal.target_false_alarms_per_100_batch_days:g} false alarms" in note
    assert (
        f"{cal.heldout_rate_per_100_batch_days:g} / 100 batch-days measured on 3 held-out" in note
    )
    notes = " ".join(training_notes(det))
    assert "rules checked out of fold on 8 fault-free training batches" in notes
    assert det.profile.firing_checked == "out_of_fold" and det.profile.heldout_batches == 3


def test_holdout_mode_calibrates_on_validation_batches(fitted):
    _, _, train, val, cfg = fitted
    prep = Preprocessor.fit(pd.concat(list(train.values())), list(schema.VARIABLE_NAMES))
    cfg2 = AnomalyConfig(autoencoder=cfg.autoencoder, calibration={"mode": "holdout"})
    det, info = fit_detector(train, val, cfg2, prep, seed=0, trainer_kwargs=dict(FAST_TRAINER))
    _, cal = det.get("pca")
    assert info["calibration_mode"] == "holdout" and cal.mode == "holdout"
    assert cal.n_batches == len(VAL) and not cal.scored_by_model_without
    assert det.profile.firing_checked == "in_sample"
