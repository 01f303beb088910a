"""Scoring many batches at once equals scoring them one at a time.

The network (sliding windows with the input layers once per row), the autoencoder scorer
(batches of unequal length concatenated, chunked) and the detector (``detect_many``: the
same alarms, times and reasons as ``detect``) each against the one-at-a-time path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.anomaly import detector as detector_module
from forecaster.anomaly.config import AutoencoderConfig, RulesConfig, ThresholdConfig
from forecaster.anomaly.detector import AnomalyDetector
from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
from forecaster.anomaly.scores import AEScorer, FeatureSpec
from forecaster.anomaly.threshold import calibrate
from forecaster.data.features import Preprocessor
from forecaster.models.autoencoder_net import FEW_WINDOWS, AutoencoderNet
from tests.anomaly.conftest import make_batch, make_table

WINDOW = 6
#: unequal lengths: shorter than a window, a few windows, many (the stepwise encoder)
LENGTHS = {"A": 4, "B": 30, "C": 97, "F": 120, "D": 75}


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("rows", [WINDOW, FEW_WINDOWS + WINDOW + 10])
def test_sliding_reconstruction_equals_the_newest_row_of_each_window(cell, layers, rows):
    torch.manual_seed(1)
    net = AutoencoderNet(7, 3, cell=cell, hidden_size=8, latent_size=2, num_layers=layers).eval()
    x = torch.randn(rows, 7)
    with torch.inference_mode():
        got = net.reconstruct_sliding(x, WINDOW)
        want = net.reconstruct_newest(x.unfold(0, WINDOW, 1).transpose(1, 2).contiguous())
    assert got.shape == (rows - WINDOW + 1, 3)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_sliding_reconstruction_rejects_fewer_rows_than_a_window():
    net = AutoencoderNet(7, 3, hidden_size=8, latent_size=2).eval()
    with pytest.raises(ValueError, match="rows"):
        net.reconstruct_sliding(torch.zeros(WINDOW - 1, 7), WINDOW)


@pytest.fixture(scope="module")
def detector() -> AnomalyDetector:
    """An untrained network is enough: batched and one-at-a-time must agree on any weights;
    the error scale and threshold are fitted on normal batches so the faulty one alarms."""
    torch.manual_seed(0)
    table, _ = make_table(6, n_hours=72)
    prep = Preprocessor.fit(table, list(schema.VARIABLE_NAMES))
    cfg = AutoencoderConfig(window_h=WINDOW)
    spec = FeatureSpec.build(prep, table, cfg.score_roles, cfg.exclude)
    net = AutoencoderNet(len(spec.input_idx), len(spec.target_idx), hidden_size=16,
                         latent_size=4).eval()  # fmt: skip
    groups = [g.reset_index(drop=True) for _, g in table.groupby(schema.BATCH_ID)]
    series = [(g[schema.TIME].to_numpy(float), spec.features(prep, g)) for g in groups]
    scale, dt = AEScorer.fit_err_scale(net, spec, WINDOW, series[:4])
    scorer = AEScorer(net, spec, WINDOW, scale, dt, top_k=2)
    cal = calibrate([(t, scorer.score_features(f, t).score) for t, f in series[4:]],
                    ThresholdConfig(method="quantile", quantile=0.99, margin=1.5))  # fmt: skip
    return AnomalyDetector(prep, spec, [(scorer, cal)], RulesConfig(), agitation_max=400.0)


def _batches() -> list:
    out = []
    for i, (bid, n) in enumerate(LENGTHS.items()):
        fault = 50.0 if bid == "F" else None  # aeration failure from 50 h
        out.append(make_batch(bid, n_hours=n, seed=100 + i, do_fault_h=fault))
    return out


def test_scores_of_many_batches_equal_one_at_a_time(detector):
    scorer = detector.scorers[0][0]
    inputs = [detector._input(g) for g in _batches()]
    alone = [scorer.score(x) for x in inputs]
    for chunk_rows in (60, 100_000):  # batches split over passes, or all in one
        recons = scorer.reconstruct_many([x.feats for x in inputs], chunk_rows=chunk_rows)
        for x, rec in zip(inputs, recons):
            np.testing.assert_allclose(rec, scorer.reconstruct_last(x.feats), rtol=1e-5, atol=1e-6)
    for x, a, b in zip(inputs, alone, scorer.score_many(inputs)):
        assert b.score.shape == (len(x.t_h),)
        np.testing.assert_allclose(b.score, a.score, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(b.contrib, a.contrib, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b.expected, a.expected, rtol=1e-5, atol=1e-6)


def test_the_stream_scores_its_last_rows_as_the_whole_batch_does(detector):
    scorer = detector.scorers[0][0]
    x = detector._input(_batches()[2])
    whole = scorer.reconstruct_last(x.feats)
    for lo in (1, WINDOW - 1, WINDOW, 50, len(x.t_h) - 1):
        part = scorer.reconstruct_last(x.feats, slice(lo, None))
        np.testing.assert_allclose(part, whole[lo:], rtol=1e-5, atol=1e-6)


def _key(e) -> tuple:
    return (e.batch_id, e.detector, e.rule, e.start_h, e.raised_h, e.end_h, e.threshold,
            e.open, e.incident_id, e.reason, [v for v, _ in e.top_variables])  # fmt: skip


@pytest.mark.parametrize("group", [2, 64])
def test_detect_many_raises_the_alarms_of_detect(detector, monkeypatch, group):
    monkeypatch.setattr(detector_module, "GROUP", group)  # groups of batches, or one
    batches = _batches()
    one = [detector.detect(g) for g in batches]
    many = detector.detect_many(batches)
    assert [len(e) for e in many] == [len(e) for e in one]
    for a, b in zip(one, many):
        assert [_key(e) for e in b] == [_key(e) for e in a]
        np.testing.assert_allclose([e.peak_score for e in b], [e.peak_score for e in a],
                                   rtol=1e-5)  # fmt: skip
    faulty = many[list(LENGTHS).index("F")]
    assert any(e.detector == "autoencoder" and e.raised_h >= 50.0 for e in faulty)


def test_detect_many_reasons_speak_each_batchs_vocabulary(detector):
    batches = _batches()[3:]
    vocab = [Vocabulary(names={"do_pct": f"DO probe {i} (%)"}) for i in range(len(batches))]
    many = detector.detect_many(batches, vocabularies=vocab)
    for g, v, got in zip(batches, vocab, many):
        with use_vocabulary(v):
            assert [e.reason for e in got] == [e.reason for e in detector.detect(g)]
    assert any("DO probe 0" in e.reason for e in many[0])


def test_detect_many_checks_its_arguments(detector):
    batches = _batches()[:2]
    with pytest.raises(ValueError, match="2 batches"):
        detector.detect_many(batches, vocabularies=[None])
    with pytest.raises(ValueError, match="no scorer"):
        detector.detect_many(batches, detectors=("pca",))
    assert detector.detect_many([]) == []
