"""Issue #14, finding 8: TensorBoard's HParams tab compares runs.

The trial found only the autoencoder's ``lr``, ``weight_decay`` and ``input_noise`` there,
with ``hp_metric = -1``, and none of the run's forecaster settings or results. This reads
the event files a real (tiny) training run wrote, as TensorBoard does.
"""

from __future__ import annotations

import json

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2


@pytest.fixture(scope="module")
def events(run_dir) -> list[EventAccumulator]:
    files = sorted((run_dir / "tb").rglob("events.out.tfevents*"))
    assert files, "the run wrote no TensorBoard events"
    out = []
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        out.append(acc)
    return out


def _hparams(acc: EventAccumulator, tag: str):
    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:  # this file holds no HParams data
        return None
    return plugin_data_pb2.HParamsPluginData.FromString(content[tag]) if tag in content else None


def _value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind)


def test_one_hparams_entry_per_run_with_both_models_settings(events, run_dir):
    sessions = [s for acc in events if (s := _hparams(acc, "_hparams_/session_start_info"))]
    assert len(sessions) == 1  # one entry per run, not one per model fitted inside it
    hp = {k: _value(v) for k, v in sessions[0].session_start_info.hparams.items()}
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert hp["model.hidden_size"] == cfg["model"]["hidden_size"]
    assert hp["model.cell"] == cfg["model"]["cell"]
    assert hp["trainer.max_epochs"] == cfg["trainer"]["max_epochs"]
    ae = cfg["anomaly"]["autoencoder"]
    assert hp["anomaly.autoencoder.latent_size"] == ae["latent_size"]
    assert hp["anomaly.autoencoder.lr"] == pytest.approx(ae["lr"])
    assert hp["seed"] == cfg["seed"]


def test_the_entry_holds_the_runs_headline_results_and_no_placeholder(events, run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    scalars = {}
    for acc in events:
        for tag in acc.Tags()["scalars"]:
            scalars[tag] = acc.Scalars(tag)[-1].value
    assert "hp_metric" not in scalars  # Lightning's -1 placeholder
    seq = metrics["titer"]["sequence"]
    assert scalars["hparam/feed_r2"] == pytest.approx(metrics["feed"]["sequence"]["r2"])
    for day, mape in seq["harvest_mape_by_day"].items():
        if mape is not None:
            assert scalars[f"hparam/titer_mape_day{day}"] == pytest.approx(mape)
    assert scalars["hparam/pi80_coverage"] == pytest.approx(seq["pi80_coverage"])
    combined = metrics["anomaly"]["combined"]
    assert scalars["hparam/false_alarms_per_100_batch_days"] == pytest.approx(
        combined["false_alarms_per_100_batch_days"]
    )
    if combined.get("f1") is not None:
        assert scalars["hparam/anomaly_f1"] == pytest.approx(combined["f1"])
    experiment = next(e for acc in events if (e := _hparams(acc, "_hparams_/experiment")))
    listed = {m.name.tag for m in experiment.experiment.metric_infos}
    assert {"hparam/feed_r2", "hparam/pi80_coverage"} <= listed
