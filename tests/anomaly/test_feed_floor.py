"""The feed mass balance's volume noise floor is learned from fault-free batches.

A 2 L bench vessel reads its volume to millilitres; a 2,000 L vessel to litres, and its
level also wanders over hours. The floor must follow the data (in the rule's mL, whatever
the plant), with the config's 5 mL only as the lower bound.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.mass_balance import feed_rule, learn_volume_floor, volume_floor_mL
from forecaster.anomaly.reasons import Vocabulary, use_vocabulary
from forecaster.anomaly.rule_profile import RuleProfile, learn_signals

STOP_H = 120.0


def vessel(seed: int, scale: float = 1.0, white_mL: float = 5.0, wander_mL: float = 0.0,
           stop_h: float | None = None, n: int = 240) -> pd.DataFrame:  # fmt: skip
    """Feed 2 mL/h from 48 h and base 0.3 mL/h (x ``scale``), each logged rate delivered
    over the next hour; the volume reading adds white noise ``white_mL`` and a slow wander
    (AR(1), 0.95 per hour, sd ``wander_mL``); from ``stop_h`` the feed pump logs but
    delivers nothing."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    feed, base = np.where(t >= 48, 2.0, 0.0) * scale, np.full(n, 0.3) * scale
    got = feed * (t < stop_h) if stop_h is not None else feed
    vol_mL = 1500.0 * scale + np.concatenate([[0.0], np.cumsum(got + base)[:-1]])
    wander = np.zeros(n)
    steps = rng.normal(0.0, wander_mL * np.sqrt(1 - 0.95**2), n)
    for i in range(1, n):
        wander[i] = 0.95 * wander[i - 1] + steps[i]
    vol_mL = vol_mL + wander + rng.normal(0.0, white_mL, n)
    return pd.DataFrame({"time_h": t, "volume_L": vol_mL / 1000.0, "feed_rate_mL_h": feed,
                         "base_rate_mL_h": base})  # fmt: skip


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_floor_follows_the_plants_noise(scale):
    # bench: 5 mL of reading noise; the same vessel x 1000 (2,000 L): 5 L
    floor = learn_volume_floor([vessel(s, scale, 5.0 * scale) for s in range(6)], RulesConfig())
    assert 4.0 * scale < floor < 6.5 * scale


def test_config_floor_is_the_lower_bound():
    cfg = RulesConfig()
    learned = learn_volume_floor([vessel(s, white_mL=0.0) for s in range(3)], cfg)
    assert learned < 1e-6  # a noise-free volume: nothing to learn
    assert volume_floor_mL(cfg, learned) == cfg.feed_volume_sd_mL == 5.0
    assert volume_floor_mL(cfg, None) == 5.0 and volume_floor_mL(cfg, 7.5) == 7.5


def test_no_volume_or_feed_learns_nothing():
    rows = vessel(0).drop(columns=["feed_rate_mL_h"])
    assert learn_volume_floor([rows], RulesConfig()) is None


def test_wandering_plant_level_alarms_only_with_the_fixed_floor():
    # 2,000 L: 1 L reading noise plus a 4 L wander over hours. Successive differences see
    # about 1.5 L, so the fixed floor lets the wander pass for missing feed on most normal
    # batches; the learned floor covers the wander and still sees a stopped 2 L/h pump.
    cfg, plant = RulesConfig(), {"scale": 1000.0, "white_mL": 1000.0, "wander_mL": 4000.0}
    floor = learn_volume_floor([vessel(s, **plant) for s in range(12)], cfg)
    assert floor > 2 * 1000.0  # well above the white noise
    fixed = [feed_rule(vessel(s, **plant), cfg).flag.any() for s in range(100, 110)]
    learned = [feed_rule(vessel(s, **plant), cfg, floor).flag.any() for s in range(100, 110)]
    assert sum(fixed) >= 7 and sum(learned) == 0
    for s in range(200, 206):
        hit = np.flatnonzero(feed_rule(vessel(s, stop_h=STOP_H, **plant), cfg, floor).flag)
        assert hit.size and STOP_H < hit[0] <= STOP_H + 24, s


def test_profile_learns_the_floor_and_keeps_it_as_a_plain_float():
    cfg = RulesConfig()
    batches = [vessel(s, 1000.0, 5000.0) for s in range(4)]
    p = learn_signals(batches, cfg)
    assert 4000.0 < p.feed_volume_sd_mL < 6500.0
    assert p.feed_volume_sd_mL == pytest.approx(learn_volume_floor(batches, cfg), rel=1e-6)
    assert isinstance(p.to_dict()["feed_volume_sd_mL"], float)
    assert RuleProfile(**p.to_dict()) == p
    assert RuleProfile().feed_volume_sd_mL == 0.0  # a profile saved before: the config's floor


def test_reason_speaks_the_users_volume_unit():
    rows = vessel(3, 1000.0, 5000.0, stop_h=STOP_H)
    with use_vocabulary(Vocabulary(units={"volume_L": "m3"})):
        r = feed_rule(rows, RulesConfig(), 5000.0)
        i = int(np.flatnonzero(r.flag)[0])
        text = r.describe(i, float(i))
    assert " m3 of feed and base" in text and " m3 missing" in text
    assert re.search(r"noise sd 0\.005\d* m3,", text) and " mL" not in text
    bench = feed_rule(vessel(3, stop_h=STOP_H), RulesConfig())
    j = int(np.flatnonzero(bench.flag)[0])
    assert " mL of feed and base" in bench.describe(j, float(j))  # a bench vessel: mL
    litres = feed_rule(rows, RulesConfig(), 5000.0)  # a 2,000 L vessel logged in L: litres
    k = int(np.flatnonzero(litres.flag)[0])
    assert re.search(r"Of the [\d.]+ L of feed and base", litres.describe(k, float(k)))
