"""Tiny trained autoencoder: faulty window scores higher, causality, save/load, streaming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster import schema
from forecaster.anomaly.config import AutoencoderConfig, RulesConfig, ThresholdConfig
from forecaster.anomaly.detector import AnomalyDetector, AnomalyDetectorError
from forecaster.anomaly.refit import refit_calibration
from forecaster.anomaly.scores import AEScorer, FeatureSpec, transform_arrays, windows
from forecaster.anomaly.threshold import calibrate
from forecaster.anomaly.train_ae import train_autoencoder
from forecaster.data.features import Preprocessor
from forecaster.models.autoencoder_net import AutoencoderNet
from tests.anomaly.conftest import make_batch, make_table

CFG = AutoencoderConfig(
    window_h=8, hidden_size=24, latent_size=6, train_stride=2, max_epochs=25, lr=1e-2
)


@pytest.fixture(scope="module")
def detector() -> AnomalyDetector:
    torch.set_num_threads(1)
    table, _ = make_table(8, n_hours=72)
    prep = Preprocessor.fit(table, [v for v in schema.VARIABLE_NAMES])
    spec = FeatureSpec.build(prep, table, CFG.score_roles, CFG.exclude)
    groups = [g.reset_index(drop=True) for _, g in table.groupby(schema.BATCH_ID)]
    feats = [spec.features(prep, g) for g in groups]
    trainer = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}
    net, hp = train_autoencoder(feats[:6], feats[6:], spec, CFG, seed=0, trainer_kwargs=trainer)
    ts = [g[schema.TIME].to_numpy(float) for g in groups]
    scale, dt = AEScorer.fit_err_scale(net, spec, CFG.window_h, list(zip(ts[:6], feats[:6])))
    scorer = AEScorer(net, spec, CFG.window_h, scale, dt, hparams=hp)
    cal = calibrate(
        [(t, scorer.score_features(f, t).score) for t, f in zip(ts[6:], feats[6:])],
        ThresholdConfig(),
    )
    scorer.setpoint_transient_h = cal.setpoint_transient_h
    return AnomalyDetector(prep, spec, [(scorer, cal)], RulesConfig(), agitation_max=400.0)


def test_windows_are_causal_and_padded():
    x = np.arange(5, dtype=float)[:, None]
    w = windows(x, 3)
    assert w.shape == (5, 3, 1)
    np.testing.assert_array_equal(w[0, :, 0], [0, 0, 0])
    np.testing.assert_array_equal(w[4, :, 0], [2, 3, 4])


def test_net_shapes_gru_and_lstm():
    for cell in ("gru", "lstm"):
        net = AutoencoderNet(7, 3, cell=cell, hidden_size=8, latent_size=2, num_layers=2)
        assert net(torch.zeros(4, 5, 7)).shape == (4, 5, 3)


def test_newest_row_reconstruction_equals_full_forward():
    torch.manual_seed(0)
    for cell in ("gru", "lstm"):
        net = AutoencoderNet(7, 3, cell=cell, hidden_size=8, latent_size=2, num_layers=2).eval()
        x = torch.randn(4, 5, 7)
        torch.testing.assert_close(net.reconstruct_newest(x), net(x)[:, -1])


def test_fast_features_equal_the_preprocessor():
    table, _ = make_table(3, n_hours=60)
    prep = Preprocessor.fit(
        table,
        list(schema.VARIABLE_NAMES),
        ["titer_mg_L", "vcd_1e6_cells_mL"],
        history_variables=["titer_mg_L", "glucose_g_L"],
        history_lags=2,
    )
    rows = make_batch("X", n_hours=50, seed=5)
    rows.loc[3:6, "do_pct"] = np.nan  # gaps are carried forward the same way
    cols = {c: rows[c].to_numpy(float) for c in [schema.TIME, *prep.variables]}
    np.testing.assert_allclose(transform_arrays(prep, cols), prep.transform_batch(rows), rtol=1e-6)


def test_faulty_window_scores_higher_than_normal_window(detector):
    rows = make_batch("F", n_hours=72, seed=77, do_fault_h=40.0)
    s = detector.score(rows)
    normal = s["ae_score"].to_numpy()[10:38].mean()
    faulty = s["ae_score"].to_numpy()[42:60].mean()
    assert faulty > 5 * normal
    top = s.filter(like="contrib_").iloc[50].idxmax()
    assert top in ("contrib_do_pct", "contrib_agitation_rpm")


def test_future_rows_do_not_change_past_scores(detector):
    rows = make_batch("C", n_hours=72, seed=5)
    full = detector.score(rows)["ae_score"].to_numpy()
    altered = rows.copy()
    altered.loc[40:, "do_pct"] = 5.0
    altered.loc[40:, "glucose_g_L"] = 0.1
    part = detector.score(altered)["ae_score"].to_numpy()
    np.testing.assert_allclose(part[:40], full[:40], rtol=1e-6)
    assert not np.allclose(part[40:], full[40:])
    short = detector.score(rows.iloc[:30])["ae_score"].to_numpy()
    np.testing.assert_allclose(short, full[:30], rtol=1e-6)


def test_detect_reports_reason_and_top_variable(detector):
    rows = make_batch("F", n_hours=72, seed=78, do_fault_h=40.0)
    events = detector.detect(rows)
    ae = [e for e in events if e.detector == "autoencoder"]
    assert ae and 40.0 <= ae[0].raised_h <= 43.0
    assert ae[0].top_variables[0][0] in ("do_pct", "agitation_rpm")
    assert "h" in ae[0].reason and "%" in ae[0].reason
    rules = {e.rule for e in events if e.detector == "rules"}
    assert "do_low" in rules


@pytest.mark.parametrize("chunk", [1, 5, 24])
def test_streaming_agrees_with_one_shot(detector, chunk):
    rows = make_batch("F", n_hours=120, seed=79, do_fault_h=30.0)  # longer than the tail
    rows.loc[50, "temperature_C"] = 40.0  # a spike as well
    whole = detector.detect(rows)
    s = detector.stream("F")
    for lo in range(0, len(rows), chunk):
        s.update(rows.iloc[lo : lo + chunk])
    key = lambda e: (e.key, e.start_h, e.end_h, e.open, e.top_variables, e.reason, e.incident_id)  # noqa: E731
    assert [key(e) for e in s.events] == [key(e) for e in whole]
    assert len(whole) >= 2 and all(e.incident_id for e in whole)  # one-shot = stream: incidents too
    assert len(s._tail[schema.TIME]) < len(rows)  # a bounded tail, not the history


def _temperature_shift(rows, at: int = 40):
    """Set point 36.8 -> 33 C at row ``at``; the reading lags the step by one row."""
    rows = rows.copy()
    t = rows["time_h"].to_numpy()
    rows["temperature_setpoint_C"] = np.where(t >= at, 33.0, 36.8)
    rows.loc[t >= at + 1, "temperature_C"] -= 3.8
    rows.loc[t == at + 1, "temperature_C"] += 0.6
    return rows


def test_setpoint_transient_leaves_out_only_that_variable(detector):
    rows = _temperature_shift(make_batch("T", n_hours=72, seed=81))
    feats = detector.spec.features(detector.prep, rows)
    mask = detector.spec.in_transient(feats, 3.0)
    j = detector.spec.variables.index("temperature_C")
    assert np.flatnonzero(mask[:, j]).tolist() == [40, 41, 42]
    assert not np.delete(mask, j, axis=1).any()
    on = detector.score(rows)
    scorer = detector.scorers[0][0]
    assert scorer.setpoint_transient_h == 3.0  # from the calibration's default
    scorer.setpoint_transient_h = 0.0
    try:
        off = detector.score(rows)
    finally:
        scorer.setpoint_transient_h = 3.0
    col = "contrib_temperature_C"
    assert (on[col].iloc[40:43] == 0).all() and (off[col].iloc[40:43] > 0).all()
    assert off[col].iloc[40] > 0.5 and on[col].iloc[43] > 0  # scored again after 3 h
    assert (on["ae_score"].iloc[40:43] < off["ae_score"].iloc[40:43]).all()


@pytest.mark.parametrize("chunk", [1, 7])
def test_stream_merges_alarms_of_one_rule(detector, chunk):
    rows = make_batch("M", n_hours=96, seed=82)
    rows.loc[50:52, "do_pct"] = 10.0
    rows.loc[58:60, "do_pct"] = 11.0  # 6 h after the first dip: the same alarm continues
    whole = detector.detect(rows)
    s = detector.stream("M")
    for lo in range(0, len(rows), chunk):
        s.update(rows.iloc[lo : lo + chunk])
    key = lambda e: (e.key, e.start_h, e.end_h, e.open, e.reason)  # noqa: E731
    assert [key(e) for e in s.events] == [key(e) for e in whole]
    do_low = [e for e in whole if e.rule == "do_low"]
    assert [(e.start_h, e.raised_h, e.end_h) for e in do_low] == [(50.0, 51.0, 60.0)]
    detector.rules.merge_gap_h = 0.0
    try:
        assert len([e for e in detector.detect(rows) if e.rule == "do_low"]) == 2
    finally:
        detector.rules.merge_gap_h = 12.0


def test_stream_rejects_rows_from_the_past(detector):
    rows = make_batch("F", n_hours=30, seed=1)
    s = detector.stream("F")
    s.update(rows.iloc[:20])
    with pytest.raises(ValueError, match="not after the last row"):
        s.update(rows.iloc[10:15])


def test_save_load_roundtrip(detector, tmp_path):
    detector.save(tmp_path / "anomaly")
    state = torch.load(tmp_path / "anomaly" / "model.pt", weights_only=True)
    assert state["kind"] == "anomaly-detector" and state["format_version"] == 3
    assert state["scorers"][0]["state"]["hparams"]["cell"] == "gru" and "prep" in state
    loaded = AnomalyDetector.load(tmp_path)
    rows = make_batch("F", n_hours=72, seed=80, do_fault_h=40.0)
    np.testing.assert_allclose(
        loaded.score(rows)["ae_score"], detector.score(rows)["ae_score"], rtol=1e-6
    )
    assert loaded.threshold == detector.threshold
    assert [e.key for e in loaded.detect(rows)] == [e.key for e in detector.detect(rows)]


def test_load_missing_files_is_a_clear_error(tmp_path):
    with pytest.raises(AnomalyDetectorError, match="model.pt not found"):
        AnomalyDetector.load(tmp_path)


def test_missing_columns_are_named(detector):
    rows = make_batch("F", n_hours=30, seed=1).drop(columns=["ph"])
    with pytest.raises(KeyError, match="ph"):
        detector.score(rows)


def test_top_k_score_and_median_scale(detector, tmp_path):
    sc = detector.scorers[0][0]
    rows = make_batch("K", n_hours=60, seed=3, do_fault_h=30.0)
    feats, t = detector.spec.features(detector.prep, rows), rows[schema.TIME].to_numpy(float)
    full = AEScorer(sc.net, sc.spec, sc.window, sc.err_scale, sc.dt_h, top_k=0).score_features(
        feats, t
    )
    top2 = AEScorer(sc.net, sc.spec, sc.window, sc.err_scale, sc.dt_h, top_k=2).score_features(
        feats, t
    )
    err = full.contrib * full.score[:, None] * full.contrib.shape[1]  # normalised errors
    np.testing.assert_allclose(top2.score, np.sort(err, axis=1)[:, -2:].mean(axis=1), rtol=1e-9)
    assert np.all(top2.score >= full.score - 1e-12)
    sc.top_k = 2  # saved with the model
    try:
        detector.save(tmp_path / "anomaly")
        assert AnomalyDetector.load(tmp_path).scorers[0][0].top_k == 2
    finally:
        sc.top_k = 0
    med, _ = AEScorer.fit_err_scale(sc.net, sc.spec, sc.window, [(t, feats)], method="median")
    assert med.shape[1] == len(sc.spec.variables) and np.all(np.isfinite(med) & (med > 0))
    with pytest.raises(ValueError):
        AutoencoderConfig(err_norm="max")


def _normal_shift(bid: str, seed: int, at: int, do_fault_h: float | None = None):
    """A batch whose temperature set point steps at row ``at``, with the normal response:
    cooler cells respire less, so the DO cascade eases agitation by 40 rpm over 6 h."""
    rows = _temperature_shift(make_batch(bid, 72, seed, do_fault_h), at)
    t = rows["time_h"].to_numpy()
    if do_fault_h is None:
        rows["agitation_rpm"] -= 40.0 * np.clip((t - at) / 6.0, 0.0, 1.0)
    return rows


def test_step_scale_spares_a_normal_shift_but_not_a_fault_at_the_shift(detector):
    scorer = detector.scorers[0][0]
    train = [_normal_shift(f"S{i}", 90 + i, at=30 + 3 * i) for i in range(8)]
    inputs = [
        (g["time_h"].to_numpy(float), detector.spec.features(detector.prep, g)) for g in train
    ]
    normal = _normal_shift("N", 120, at=40)
    faulty = _normal_shift("F", 121, at=40, do_fault_h=40.0)  # aeration fails at the shift
    ae = ("autoencoder",)
    try:
        assert scorer.step_scale is None  # the fixture's scorer has none
        without = detector.score(normal)["ae_score"].to_numpy()
        assert [e.raised_h for e in detector.detect(normal, ae)]  # the shift alarms
        scorer.fit_step(inputs, 24.0)
        agit = detector.spec.variables.index("agitation_rpm")
        assert scorer.step_scale.shape == (24, len(detector.spec.variables))
        assert scorer.step_scale[:8, agit].max() > 2.0  # the normal easing, learned
        with_scale = detector.score(normal)["ae_score"].to_numpy()
        assert with_scale[40:52].max() < without[40:52].max()
        np.testing.assert_allclose(with_scale[:40], without[:40])  # before the step: as before
        assert detector.detect(normal, ae) == []
        raised = [e.raised_h for e in detector.detect(faulty, ae)]
        assert raised and 40.0 <= raised[0] <= 43.0
    finally:
        scorer.step_scale = None


def test_refit_calibration_fits_the_step_scale_and_sets_the_threshold_again(detector, tmp_path):
    table, _ = make_table(8, n_hours=72)  # the fixture's batches: N000-N005 train, N006-7 val
    val = table[table[schema.BATCH_ID].isin(["N006", "N007"])]
    same = refit_calibration(detector, table[~table.index.isin(val.index)], val, 0.0)
    assert same.threshold == detector.threshold and same.scorers[0][0].step_scale is None
    shifted = pd.concat([_normal_shift(f"S{i}", 90 + i, at=30 + 3 * i) for i in range(8)])
    new = refit_calibration(detector, shifted, val, 24.0)
    assert new.scorers[0][0].step_scale is not None and detector.scorers[0][0].step_scale is None
    new.save(tmp_path / "anomaly")
    loaded = AnomalyDetector.load(tmp_path)
    np.testing.assert_allclose(loaded.scorers[0][0].step_scale, new.scorers[0][0].step_scale)
    rows = _normal_shift("N", 120, at=40)
    np.testing.assert_allclose(loaded.score(rows)["ae_score"], new.score(rows)["ae_score"])
    with pytest.raises(ValueError, match="validation rows"):
        refit_calibration(detector, shifted, val.iloc[:0])
