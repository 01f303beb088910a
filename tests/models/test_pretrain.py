"""Transfer from the simulator: rendering like the user's data, the pre-training switch in a
run, and the refusal for a process the simulator cannot stand in for."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.process import Process, ProcessVariable, default_process, preset
from forecaster.data.time_grid import detect_cadence
from forecaster.models.pretrain import (
    KEY,
    SIM_PREFIX,
    check_transferable,
    render_sim,
    sim_variables,
    user_shape,
)
from forecaster.sim import SimConfig, simulate

torch.set_num_threads(1)

OSMO = ProcessVariable("osmolality_mOsm_kg", "mOsm/kg", "offline", 0.0, 2000.0, "Osmolality")


def _cho_plus_osmolality() -> Process:
    cho = default_process()
    return dataclasses.replace(cho, name="custom", variables=(*cho.variables, OSMO))


@pytest.fixture(scope="module")
def user():
    """5-day batches, rows every 2 h, VCD daily, titer every 2 days, a 100x larger vessel,
    no CO2 column and an osmolality assay the simulator does not have."""
    cfg = SimConfig(sample_interval_h=2.0, run_length_days=5.0, record_plan=False)
    t = simulate(cfg, n_batches=3, seed=11).table.drop(columns=["co2_flow_mL_min"])
    titer = t[schema.TITER].notna()
    rank = titer.astype(int).groupby(t[schema.BATCH_ID]).cumsum()
    t.loc[titer & (rank % 2 == 0), schema.TITER] = np.nan
    for c in ("volume_L", "feed_rate_mL_h"):
        t[c] = t[c] * 100.0
    t[OSMO.name] = np.where(t["vcd_1e6_cells_mL"].notna(), 320.0, np.nan)
    return t


def test_rendered_batches_keep_the_users_variables_cadence_length_and_scale(user):
    process = _cho_plus_osmolality()
    shape = user_shape(user, process)
    sim = render_sim(shape, SimConfig(), n_batches=4, seed=3, process=process)
    assert list(sim.columns) == [schema.BATCH_ID, schema.TIME, *shape.variables]
    assert "co2_flow_mL_min" not in sim and OSMO.name in shape.variables
    assert sim[OSMO.name].isna().all()  # the simulator lacks it: missing, never invented
    assert sim[schema.BATCH_ID].str.startswith(SIM_PREFIX).all()
    assert sim[schema.BATCH_ID].nunique() == 4
    got = detect_cadence(sim, assays=("vcd_1e6_cells_mL", schema.TITER))
    assert got.row_h == pytest.approx(2.0)
    assert got.assay_h["vcd_1e6_cells_mL"] == pytest.approx(24.0)
    assert got.assay_h[schema.TITER] == pytest.approx(48.0)
    ends = sim.groupby(schema.BATCH_ID)[schema.TIME].max()
    assert ends.median() == pytest.approx(shape.run_end_h)
    first = sim.groupby(schema.BATCH_ID)["volume_L"].first().median()
    assert first == pytest.approx(shape.volume_L, rel=0.05)  # flows follow the vessel size


def test_an_assay_taken_only_at_harvest_is_rendered_only_at_harvest(user):
    t = user.copy()
    last = t.groupby(schema.BATCH_ID)[schema.TIME].transform("max")
    t[schema.TITER] = np.where(t[schema.TIME] < last, np.nan, 2000.0)
    shape = user_shape(t)
    assert schema.TITER in shape.harvest_only
    sim = render_sim(shape, SimConfig(), n_batches=2, seed=0)
    seen = sim[sim[schema.TITER].notna()]
    assert len(seen) == 2
    assert (seen.groupby(schema.BATCH_ID)[schema.TIME].max() == shape.run_end_h).all()


def test_a_process_that_is_not_cho_like_is_refused_in_one_line_naming_the_key():
    microbial = preset("microbial_fedbatch")
    with pytest.raises(ConfigError) as err:
        check_transferable(microbial.names, microbial)
    assert str(err.value.message).startswith(KEY) and "\n" not in str(err.value)
    extra = tuple(
        ProcessVariable(f"assay{i}_g_L", "g/L", "offline", 0.0, 10.0, f"A{i}") for i in range(6)
    )
    cho = default_process()
    custom = dataclasses.replace(cho, name="custom", variables=(*cho.variables[-3:], *extra))
    names = [v.name for v in custom.variables]
    assert len(sim_variables(names, custom)) == 3
    with pytest.raises(ConfigError, match="only 3 of the 9 variables"):
        check_transferable(names, custom)
    check_transferable(cho.names, cho)  # the CHO preset itself passes


# ------------------------------------------------------------------ through a run config
def _run(tmp_path, name: str, *extra: str):
    from forecaster.pipeline.config import parse_config
    from forecaster.pipeline.train import run
    from tests.predict.conftest import TRAIN_ARGS

    args = [*TRAIN_ARGS, "--sim.n_batches", "6", "--data.split", "[0.5, 0.25, 0.25]",
            "--anomaly.enabled", "false", "--explain.enabled", "false", "--rf.n_estimators",
            "[5]", "--output_dir", str(tmp_path), "--run_name", name, *extra]  # fmt: skip
    cfg, text = parse_config(args)
    run_dir, _ = run(cfg, text, log=lambda *_: None)
    metrics = json.loads((run_dir / "metrics.json").read_text())["forecast_training"]
    weights = torch.load(run_dir / "forecast" / "model.pt", weights_only=True)
    return metrics, weights["weights"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pretrain_runs")
    off = "--model.pretrain_epochs", "3", "--model.pretrain_finetune_lr_scale", "0.1"
    return {
        "default": _run(tmp, "default"),
        "zero": _run(tmp, "zero", "--model.pretrain_sim_batches", "0", *off),
        "on": _run(tmp, "on", "--model.pretrain_sim_batches", "3", "--model.pretrain_epochs", "1"),
    }


def test_pretrain_zero_is_bit_identical_to_the_training_path_without_it(runs):
    (m0, w0), (m1, w1) = runs["default"], runs["zero"]
    assert "pretrain" not in m0 and "pretrain" not in m1
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # the other pretrain keys did nothing
    assert m0["val_loss_by_epoch"] == m1["val_loss_by_epoch"]


def test_a_pretrain_run_trains_on_simulated_batches_and_records_it(runs):
    metrics, weights = runs["on"]
    info = metrics["pretrain"]
    assert info["batches"] == 3 and info["epochs"] == 1
    assert info["steps"] >= 1 and info["seconds"] > 0
    w0 = runs["default"][1]
    assert any(not torch.equal(weights[k], w0[k]) for k in w0)  # started elsewhere
