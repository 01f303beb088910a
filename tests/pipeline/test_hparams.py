"""TensorBoard's HParams entry carries the run's settings and its headline results."""

from __future__ import annotations

from forecaster.pipeline.config import parse_config
from forecaster.pipeline.train import hparams_entry

METRICS = {
    "feed": {"sequence": {"r2": 0.98}},
    "titer": {
        "sequence": {"harvest_mape_by_day": {"3": 0.2, "7": 0.05, "10": None}, "pi80_coverage": 0.8}
    },
    "anomaly": {"combined": {"f1": 0.9, "false_alarms_per_100_batch_days": 0.1}},
}


def test_hparams_hold_forecaster_and_autoencoder_settings_and_results():
    cfg, _ = parse_config(["--config", "configs/debug.yaml", "--model.cell", "lstm"])
    hp, results = hparams_entry(cfg, METRICS)
    assert hp["model.cell"] == "lstm" and hp["model.hidden_size"] == 8
    assert "anomaly.autoencoder.latent_size" in hp and "trainer.max_epochs" in hp
    assert results == {
        "hparam/feed_r2": 0.98,
        "hparam/pi80_coverage": 0.8,
        "hparam/titer_mape_day3": 0.2,
        "hparam/titer_mape_day7": 0.05,
        "hparam/anomaly_f1": 0.9,
        "hparam/false_alarms_per_100_batch_days": 0.1,
    }
    assert all(isinstance(v, (bool, int, float, str)) for v in hp.values())
