"""Issue #14, finding 7, on simulated faults through ``predict`` (the trial's own path).

The trial found a contamination raising a median of 26 alarm events per batch (up to 41),
DO genuinely at 0 % reported as "DO reading frozen at 0 %", and the drift check firing an
hour after an aeration failure had recovered. The rule-level tests are in
``tests/anomaly/test_trial_findings.py`` (hand-made batches); this one runs the tiny trained
run on simulator batches with those faults and reads what the user reads.
"""

from __future__ import annotations

import pandas as pd
import pytest

from forecaster import schema
from tests.sim.helpers import only_fault

DRIFT_RULES = ("do_shift", "do_drift")


def _faulty(name: str, seed: int, **spec):
    from forecaster.sim import SimConfig, simulate

    res = simulate(only_fault(SimConfig(run_length_days=6), name, **spec), n_batches=2, seed=seed)
    table = res.table.drop(columns=[c for c in res.table.columns if c.startswith("policy_")])
    return table, res.faults


@pytest.fixture(scope="module")
def predicted(loaded_run):
    from forecaster.serve.predict import predict_table

    cont, cont_f = _faulty("contamination", 11, start_h=(50.0, 70.0), duration_h=None)
    aer, aer_f = _faulty("aeration_failure", 12, start_h=(50.0, 70.0), duration_h=(8.0, 12.0))
    aer = aer.assign(**{schema.BATCH_ID: "A" + aer[schema.BATCH_ID].str[1:]})
    aer_f = aer_f.assign(batch_id="A" + aer_f["batch_id"].str[1:])
    res = predict_table(loaded_run, pd.concat([cont, aer]), attributions=False)
    return res, cont_f, aer_f


@pytest.mark.slow
def test_a_contamination_is_one_incident_with_its_events_underneath(predicted):
    res, faults, _ = predicted
    alarms = res.alarms[res.alarms[schema.BATCH_ID].isin(faults["batch_id"])]
    assert len(alarms), "the contaminations raised no alarm at all"
    assert alarms["incident_id"].str.len().gt(0).all()  # every event belongs to an incident
    per_batch = alarms.groupby(schema.BATCH_ID)["incident_id"].nunique()
    assert (per_batch == 1).all(), per_batch.to_dict()
    assert alarms.groupby(schema.BATCH_ID).size().max() > 1  # the events stay underneath


@pytest.mark.slow
def test_aeration_failure_is_never_a_frozen_probe_and_drift_is_silent_after_recovery(predicted):
    res, _, faults = predicted
    for f in faults.itertuples(index=False):
        events = res.events.get(f.batch_id, [])
        assert events, f"aeration failure of {f.batch_id} raised no alarm"
        assert not [e for e in events if e.rule == "stuck_do_pct"]
        assert not [e for e in events if "frozen" in e.reason and "DO" in e.reason]
        late = [e for e in events if e.rule in DRIFT_RULES and e.raised_h > f.end_h]
        assert late == [], [(e.rule, e.raised_h, f.end_h) for e in late]
