import numpy as np
import torch

from forecaster import schema
from forecaster.data.datasets import (
    EpochShuffleSampler,
    PrefixDataset,
    TargetScales,
    batch_arrays,
    collate,
)
from forecaster.models.forecast import ForecastConfig, forecast_losses
from forecaster.models.sequence import SequenceForecaster
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
    state = torch.load(tmp_path / "model.pt", weights_only=True)  # no pickled classes inside
    back = SequenceForecaster.from_state(state)
    after = back.predict(prefixes)
    assert before.equals(after)
    assert after.origin_h.tolist() == [29.0, 72.0]
    assert (after.harvest_titer_p10_mg_L < after.harvest_titer_mg_L).all()
    assert (after.harvest_titer_mg_L < after.harvest_titer_p90_mg_L).all()


def test_model_saved_before_history_and_skip_still_loads(tmp_path):
    torch.manual_seed(0)
    table = synthetic_table(4, 72)
    cfg = ForecastConfig(hidden_size=8, num_layers=1, n_days=4, history_lags=0, linear_skip=False)
    model = SequenceForecaster.build(cfg, table)
    state = model.state()
    for key in ("history_inputs", "history_lags", "linear_skip"):  # the older format
        del state["config"][key]
    for key in ("history_variables", "history_lags"):
        del state["prep"][key]
    back = SequenceForecaster.from_state(state)
    assert back.net.skip is None and back.prep.history_lags == 0
    assert back.predict([table]).equals(model.predict([table]))


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
