from dataclasses import asdict

import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.data.datasets import (
    EpochShuffleSampler,
    PrefixDataset,
    TargetScales,
    batch_arrays,
    collate,
)
from forecaster.data.errors import RunFolderError
from forecaster.models.forecast import ForecastConfig, forecast_losses
from forecaster.models.sequence import FORMAT_V1, FORMAT_VERSION, SequenceForecaster
from tests.synthetic import synthetic_table


def _model():
    torch.manual_seed(0)
    table = synthetic_table(4, 72)
    cfg = ForecastConfig(hidden_size=8, num_layers=1, n_days=4)
    return SequenceForecaster.build(cfg, table), table


def test_feed_is_not_an_input_by_default():
    model, _ = _model()
    assert schema.FEED not in model.variables
    assert "titer_mg_L" in model.variables


def test_save_load_weights_only_round_trip(tmp_path):
    model, table = _model()
    batches = [g for _, g in table.groupby("batch_id")]
    prefixes = [batches[0].iloc[:30], batches[1]]
    before = model.predict(prefixes)
    model.save(tmp_path / "model.pt")
    doc = torch.load(tmp_path / "model.pt", weights_only=True)  # no pickled classes inside
    assert (doc["kind"], doc["format_version"]) == ("forecaster", FORMAT_VERSION)
    back = SequenceForecaster.load(tmp_path / "model.pt")
    after = back.predict(prefixes)
    assert before.equals(after)
    assert after.origin_h.tolist() == [29.0, 72.0]
    running, done = after.iloc[0], after.iloc[1]
    assert (
        running.harvest_titer_p10_mg_L < running.harvest_titer_mg_L < running.harvest_titer_p90_mg_L
    )
    # a finished batch: the harvest titer is measured, the forecast is that assay
    measured = batches[1]["titer_mg_L"].dropna().iloc[-1]
    assert done.harvest_titer_p10_mg_L == done.harvest_titer_p90_mg_L
    # (the anchor reads log(titer + 1 mg/L), the log-input offset: 1 mg/L above the assay)
    assert done.harvest_titer_mg_L == pytest.approx(measured, abs=1.01)


def _as_built_before_the_gate(model: SequenceForecaster) -> SequenceForecaster:
    """The same model as version 1 files hold it: no harvest gate (it came with version 2)."""
    state = model.state_dict()
    state["hparams"]["harvest_gate"] = None
    return SequenceForecaster.from_state_dict(state)


def _v1_doc(model: SequenceForecaster, cfg: ForecastConfig) -> dict:
    """A ``model.pt`` as format version 1 wrote it (the whole model config, no kind)."""
    return {
        "format": FORMAT_V1,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "n_features": model.prep.n_features,
        "anchor": list(model.net.anchor) if model.net.anchor else None,
        "horizon_days": model.horizon_days,
        "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()},
        "prep": model.prep.state_dict(),
        "scales": model.scales.state_dict(),
    }


def test_version_1_file_is_migrated_and_predicts_the_same(tmp_path):
    torch.manual_seed(0)
    table = synthetic_table(4, 72)
    cfg = ForecastConfig(hidden_size=8, num_layers=1, n_days=4)
    model = _as_built_before_the_gate(SequenceForecaster.build(cfg, table))
    torch.save(_v1_doc(model, cfg), tmp_path / "model.pt")
    back = SequenceForecaster.load(tmp_path / "model.pt")
    assert back.hparams == model.hparams and back.horizon_days == model.horizon_days
    batches = [g for _, g in table.groupby("batch_id")]
    assert back.predict(batches).equals(model.predict(batches))


def test_version_1_file_saved_before_history_and_skip_still_loads(tmp_path):
    torch.manual_seed(0)
    table = synthetic_table(4, 72)
    cfg = ForecastConfig(hidden_size=8, num_layers=1, n_days=4, history_lags=0, linear_skip=False)
    model = _as_built_before_the_gate(SequenceForecaster.build(cfg, table))
    doc = _v1_doc(model, cfg)
    for key in ("history_inputs", "history_lags", "linear_skip"):  # the older format
        del doc["config"][key]
    for key in ("history_variables", "history_lags"):
        del doc["prep"][key]
    torch.save(doc, tmp_path / "model.pt")
    back = SequenceForecaster.load(tmp_path / "model.pt")
    assert back.net.skip is None and back.prep.history_lags == 0
    batches = [g for _, g in table.groupby("batch_id")]
    assert back.predict(batches).equals(model.predict(batches))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format_version": FORMAT_VERSION + 1}, "newer than this package reads"),
        ({"kind": "anomaly-detector"}, "expected a 'forecaster'"),
        ({"format": "someone-else/v9", "kind": None}, "train the run again"),
    ],
)
def test_unreadable_model_files_are_refused_in_one_line(tmp_path, change, message):
    model, _ = _model()
    model.save(tmp_path / "model.pt")
    doc = torch.load(tmp_path / "model.pt", weights_only=True)
    doc.update(change)
    if doc.get("kind") is None:  # a version-1 file of a foreign format
        doc = {k: v for k, v in doc.items() if k not in ("kind", "format_version")}
    torch.save(doc, tmp_path / "model.pt")
    with pytest.raises(RunFolderError, match=message) as err:
        SequenceForecaster.load(tmp_path / "model.pt")
    assert "\n" not in str(err.value)


def test_prediction_of_a_prefix_equals_that_step_of_the_full_batch():
    model, table = _model()
    g = table[table.batch_id == "S001"]
    full = model.step_outputs([g])[0]
    pre = model.predict([g.iloc[:40]])
    assert np.isclose(pre.feed_next_mL_h[0], full["feed"][39], rtol=1e-5)
    assert np.isclose(pre.harvest_titer_mg_L[0], full["harvest"][39, 1], rtol=1e-5)


def test_losses_ignore_padding_and_past_days():
    model, table = _model()
    items = batch_arrays(table, model.prep, model.scales, 4)
    ds = PrefixDataset(items, min_len=10, random_prefix=False)
    short = dict(ds[0])
    n = 30
    for k in ("x", "feed", "time_h"):
        short[k] = short[k][:n]
    short["length"] = torch.tensor(n)
    batch = collate([short, ds[1]])
    q = torch.tensor([0.1, 0.5, 0.9])
    out = model.net(batch["x"])
    base = forecast_losses(out, batch, q)
    # garbage in the padded region of sequence 0 must not change any loss
    out2 = {k: v.clone() for k, v in out.items()}
    out2["feed"][0, n:] = 1e6
    out2["harvest"][0, n:] = 1e6
    out2["trajectory"][0, n:] = 1e6
    # day 1 is in the past for every step after 24 h: changing it there must not matter
    out2["trajectory"][:, 30:, 0] = 1e6
    again = forecast_losses(out2, batch, q)
    for k in base:
        assert torch.isclose(base[k], again[k]), k


def test_random_prefix_cuts_depend_on_seed_and_epoch_only():
    model, table = _model()
    items = batch_arrays(table, model.prep, model.scales, 4)
    ds = PrefixDataset(items, min_len=10, random_prefix=True, seed=3)
    sampler = EpochShuffleSampler(ds, seed=3)
    lens = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        lens.append([int(ds[i]["length"]) for i in sampler])
    assert lens[0] == lens[2]
    assert lens[0] != lens[1]


def test_target_scales_use_harvest_titer():
    table = synthetic_table(3, 48)
    s = TargetScales.fit(table)
    last = table.groupby("batch_id").titer_mg_L.last().mean()
    assert np.isclose(s.titer_scale, last)


def test_trajectory_stops_at_the_days_training_covered(tmp_path):
    model, table = _model()  # 72-hour training batches: days 1..3 only
    assert model.horizon_days == 3
    g = table[table.batch_id == "S002"]
    assert model.step_outputs([g])[0]["trajectory"].shape[1:] == (3, 3)
    model.save(tmp_path / "m.pt")
    back = SequenceForecaster.load(tmp_path / "m.pt")
    assert back.horizon_days == 3


def test_repeated_epoch_cuts_each_run_several_times():
    model, table = _model()
    items = batch_arrays(table, model.prep, model.scales, 4)
    ds = PrefixDataset(items, min_len=10, random_prefix=True, seed=3, repeats=4)
    assert len(ds) == 4 * len(items)
    # index i is run i % n, each copy with its own cut (the first copy is the un-repeated one)
    once = PrefixDataset(items, min_len=10, random_prefix=True, seed=3)
    assert [int(ds[i]["length"]) for i in range(len(items))] == [
        int(once[i]["length"]) for i in range(len(items))
    ]
    copies = {int(ds[i * len(items)]["length"]) for i in range(4)}
    assert len(copies) > 1
    for i in range(len(ds)):
        n = int(ds[i]["length"])
        assert torch.equal(ds[i]["x"], torch.from_numpy(items[i % len(items)].x[:n]))
