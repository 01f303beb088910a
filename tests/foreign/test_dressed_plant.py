"""Our own simulator dressed as another plant must train and predict through a config alone.

The export (benchmarks/dressed_export.py) is a 2,000 L vessel with hourly noise-free assays,
another historian's tags and units, and local wall-clock timestamps that repeat an hour when
the clocks go back; configs/examples/dressed_plant.yaml must be all the reader needs.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import dressed_export as dx

CONFIG = "configs/examples/dressed_plant.yaml"
FAST = ["--config", "configs/debug.yaml", "--explain.truth", "false",
        "--explain.n_test_batches", "2", "--explain.randomisation_batches", "0",
        "--anomaly.autoencoder.max_epochs", "1"]  # fmt: skip
#: Largest share of fault-free training batches a day-one rule may fire on.
MAX_RULE_SHARE = 0.05


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """12 training batches (the later ones through the autumn clock change), 3 new ones."""
    folder = tmp_path_factory.mktemp("dressed")
    train = dx.write(folder / "plant.csv", 12, seed=1)
    new = dx.write(folder / "new.csv", 3, seed=7, first_start=pd.Timestamp("2026-10-20 06:00"))
    return train, new


def test_export_speaks_another_historian(export):
    table = pd.read_csv(export[0])
    assert not {"batch_id", "time_h", "titer_mg_L", "volume_L"} & set(table.columns)
    assert {"FIC-101.PV", "TI-100.PV", dx.PRODUCT_COLUMN} <= set(table.columns)
    assert table["LI-130.PV"].between(1.0, 3.0).all()  # m3: a 2,000 L vessel
    # hourly assays, every one of them there (noise-free: the titer never falls)
    assert table[dx.PRODUCT_COLUMN].notna().all()
    assert (table.groupby(dx.BATCH)[dx.PRODUCT_COLUMN].diff().dropna() >= -1e-9).all()
    # local times without an offset, the repeated hour of 25 October included
    assert table.groupby(dx.BATCH)[dx.TIME].apply(lambda s: s.duplicated().any()).sum() >= 3


def test_config_holds_the_exports_column_map():
    from forecaster.pipeline.config import load_config_file

    cfg, _ = load_config_file(CONFIG)
    assert cfg.data.column_map.to_dict() == dx.column_map()


def test_config_reads_the_export_back_in_our_units(export):
    from forecaster.data.io import load_table
    from forecaster.data.process_config import build_process
    from forecaster.pipeline.config import load_config_file
    from forecaster.sim import simulate

    cfg, _ = load_config_file(CONFIG)
    report = load_table(export[0], cfg.data.column_map, process=build_process(cfg.data.process),
                        strict=False)  # fmt: skip
    assert report.problems == []  # the repeated hour is not a duplicated row
    table = report.table
    steps = table.groupby("batch_id")["time_h"].diff().dropna()
    assert np.allclose(steps, 1.0)  # one hour apart through the clock change
    ours = simulate(dx.sim_config(), n_batches=12, seed=1).table
    for var in ("titer_mg_L", "glucose_g_L", "temperature_C", "do_pct"):
        assert np.allclose(table[var], ours[var], rtol=1e-4, atol=1e-6), var
    assert np.allclose(table["volume_L"], ours["volume_L"] * dx.SCALE, rtol=1e-4)


def _pump_stops(rows: pd.DataFrame, stop_h: float) -> pd.DataFrame:
    """The batch with its feed pump failing at ``stop_h``: it keeps logging its rate, but
    nothing it logs from then on reaches the vessel (the volume misses it, in L)."""
    t, feed = rows["time_h"].to_numpy(), rows["feed_rate_mL_h"].to_numpy()
    lost = np.concatenate([[0.0], np.cumsum(feed[:-1] * np.diff(t) * (t[:-1] >= stop_h))])
    return rows.assign(volume_L=rows["volume_L"] - lost / 1000.0)


def test_feed_check_fits_the_plant_scale(export):
    # the volume reads to litres (5 L noise on 2,000 L): the floor learned on the training
    # batches is litres, not the config's 5 mL; the rule stays quiet on every fault-free
    # batch and sees a stopped feed pump (about 1-2 L/h of feed lost) within the rule's 24-h
    # window, telling the amounts in the plant's m3
    from forecaster.anomaly.config import RulesConfig
    from forecaster.anomaly.mass_balance import feed_rule
    from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
    from forecaster.anomaly.rule_profile import learn_signals
    from forecaster.anomaly.rule_vars import RuleVariables
    from forecaster.data.io import load_table
    from forecaster.data.process_config import build_process
    from forecaster.pipeline.config import load_config_file

    cfg, _ = load_config_file(CONFIG)
    process = build_process(cfg.data.process)
    rv, rules = RuleVariables.resolve(process), RulesConfig()

    def batches(path) -> dict[str, pd.DataFrame]:
        table = load_table(path, cfg.data.column_map, process=process, strict=False).table
        return {b: rows.reset_index(drop=True) for b, rows in table.groupby("batch_id")}

    train = batches(export[0])
    profile = learn_signals(list(train.values()), rules, rv)
    assert 3000.0 < profile.feed_volume_sd_mL < 8000.0  # litres, in mL of the rule
    floor, new = profile.feed_volume_sd_mL, batches(export[1])
    for b, rows in [*train.items(), *new.items()]:
        assert not feed_rule(rv.view(rows), rules, floor, rv).flag.any(), b
    vocab = Vocabulary(units=dict(cfg.data.column_map.units), process=process)
    for (b, rows), stop_h in zip(new.items(), (100.0, 130.0, 160.0)):
        with use_vocabulary(vocab):
            r = feed_rule(rv.view(_pump_stops(rows, stop_h)), rules, floor, rv)
            t, hit = rows["time_h"].to_numpy(), np.flatnonzero(r.flag)
            assert hit.size and stop_h < t[hit[0]] <= stop_h + 24, (b, t[hit[:1]])
            text = r.describe(int(hit[0]), float(t[hit[0]]))
        assert " m3 of feed and base" in text and " mL" not in text, text


@pytest.mark.slow
def test_config_alone_trains_and_predicts_in_its_names(export, tmp_path):
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run
    from forecaster.serve.predict import main as predict

    data, new = export
    cfg, text = parse_config(["--config", CONFIG, *FAST, "--data.path", str(data),
                              "--output_dir", str(tmp_path), "--run_name", "dressed"])  # fmt: skip
    run_dir, metrics = run(cfg, text, log=lambda *_: None)
    assert metrics["data"]["n_batches"] == 12
    # hourly assays were understood as hours
    cadence = json.loads((run_dir / "cadence.json").read_text())
    assert cadence["row_h"] == pytest.approx(1.0)
    assert cadence["assay_h"]["titer_mg_L"] == pytest.approx(1.0)
    # no day-one rule fires on more than 5 % of the fault-free training batches
    anomaly = json.loads((run_dir / "metrics.json").read_text())["anomaly"]
    assert anomaly["info"]["rules_off"] == {}, anomaly["info"]["rule_notes"]
    learned = anomaly["rules"]["learned"]
    shares = learned["firing_share_on_training_batches"]
    assert "feed_not_delivered" in shares and "do_low" in shares  # the rules did run
    assert all(s <= MAX_RULE_SHARE for s in shares.values()), shares
    assert learned["switched_off"] == {} and learned["stuck_off"] == {}

    out = tmp_path / "out"
    assert predict(["--run", str(run_dir), "--input", str(new), "--out", str(out),
                    "--no_pictures"]) == 0  # fmt: skip
    pred = pd.read_csv(out / "predictions.csv")
    assert sorted(pred[dx.BATCH if dx.BATCH in pred else "batch_id"]) == [
        "L26-0001", "L26-0002", "L26-0003"]  # fmt: skip
    assert pred["harvest_Titer_g_L"].between(0, 50).all()  # their product, in g/L
    assert (pred["harvest_Titer_p10_g_L"] <= pred["harvest_Titer_p90_g_L"]).all()
    assert "feed_next_L_h" in pred  # their feed unit
    tops = ";".join(pred["top_variables"].dropna())
    assert tops and dx.TIME not in tops and "time_h" not in tops  # the clock is no cause
    assert set(tops.split(";")) <= {c for c, _ in dx.COLUMNS.values()}
