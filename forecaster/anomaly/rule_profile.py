"""What the rules learn from the fault-free training batches (:class:`RuleProfile`).

The day-one rules start from the thresholds of the config; the training batches then say
what is normal for this process:

- **noise** of each online reading (robust sd of its row-to-row change). A reading that
  does not move from row to row in training (a noise-free export, a set point, a constant
  temperature) cannot be judged "frozen", so its stuck rule is off; a reading that repeats
  itself for a while in training (a historian that stores changes only) needs a longer flat
  run than the longest seen there. The share of training steps on which it repeats itself
  (``flat_share``, p) also bounds the run: n repeats in a row happen by chance about p^n
  times per row, so the run needs the fewest repeats n whose chance count stays under
  ``STUCK_CHANCE_PER_100_BATCH_DAYS`` (with p = 6e-5, two repeats: about 1e-5).
- **spike limits** no tighter than ``SPIKE_NOISE_SD`` x that noise.
- **volume noise floor** of the feed mass balance (``feed_volume_sd_mL``, mL): the spread
  of the volume change minus the pumped feed and base over the rule's window
  (:func:`~forecaster.anomaly.mass_balance.learn_volume_floor`), so a 2,000 L vessel that
  reads its volume to litres is judged against litres, not the config's 5 mL (which stays
  the lower bound).
- **range** of each controller output, so a reading pinned at a limit (an output at its
  maximum, DO at 0 %, viability at 100 %) is never called frozen.
- **firing share**: every rule is run over every training batch, events counted the way
  detection raises them; a rule that fires on more than ``auto_off_share`` of these
  batches is switched off (unless named in ``force_on``) and reported with the figure. With
  so few batches that a single firing is above ``auto_off_share`` (fewer than 20 at 5 %),
  one firing is a large share by chance (1 of 6 is 17 %), so the share must also be
  significantly above it (one-sided binomial test at ``AUTO_OFF_ALPHA``): 2 of 6 or every
  batch switch a rule off, 1 of 6 does not. With more batches the share itself decides:
  2 of 20 or 6 of 100 switch a rule off, 1 of 20 does not.

Every value is a plain float or string, stored in ``model.pt`` and ``thresholds.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.events import find_spans
from forecaster.anomaly.mass_balance import learn_volume_floor, volume_floor_mL
from forecaster.anomaly.oof import oof_firing
from forecaster.anomaly.rule_vars import RuleVariables

#: Significance of "fires more often than ``auto_off_share``" before a rule is switched off.
AUTO_OFF_ALPHA = 0.05
#: A spike must exceed this many robust sds of the reading's row-to-row change.
SPIKE_NOISE_SD = 8.0
#: A reading whose row-to-row change is within the stuck tolerance on more than this share
#: of the training rows has no noise to lose: its stuck rule is off.
FLAT_SHARE_MAX = 0.5
#: Chance frozen-reading alarms allowed per 100 batch-days (hourly rows: 2,400 rows), from
#: a reading's training repeat share ``flat_share``; well under the 0.3 false-alarm budget.
STUCK_CHANCE_PER_100_BATCH_DAYS = 0.01
#: Physical limits of readings (low, high): a reading pinned there is at the limit, not
#: frozen (DO at 0 % when the culture uses oxygen as fast as it arrives).
PHYSICAL_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "do_pct": (1.0, None),
    "viability_pct": (None, 99.5),
}


@dataclass
class RuleProfile:
    """Values the rules learned on the fault-free training batches.

    Attributes:
        n_batches: training batches seen.
        noise: ``{variable: robust sd of the row-to-row change}`` (variable units).
        flat_run_h: ``{variable: longest run (h) without change above the stuck tolerance}``
            (steps x step length: one repeated reading is a 1-h run on hourly rows).
        flat_share: ``{variable: share of the row-to-row steps without change}`` (0 to 1).
        stuck_off: ``{variable: why its stuck rule is off}`` (no noise in training).
        spike_limits: limits used by the spike rules (config value or the noise floor).
        ranges: ``{variable: [min, max]}`` of controller outputs and stuck-checked readings.
        firing_share: ``{rule: share of training batches on which it raised an alarm}``.
        off: ``{rule: share}`` of the rules switched off for firing too often.
        forced_on: rules kept on by ``force_on`` although they fire that often.
        firing_checked: ``in_sample`` (rules learned on the batches they were counted on) or
            ``out_of_fold`` (each batch counted by rules learned without its fold).
        heldout_batches, heldout_firing_share: normal batches used for nothing above and the
            share of them each rule (as finally set) fired on.
        feed_volume_sd_mL: volume noise floor of the feed mass balance learned on the
            batches (mL, the rule's volume part; 0: not learned, the config's floor holds).
    """

    n_batches: int = 0
    noise: dict[str, float] = field(default_factory=dict)
    flat_run_h: dict[str, float] = field(default_factory=dict)
    flat_share: dict[str, float] = field(default_factory=dict)
    stuck_off: dict[str, str] = field(default_factory=dict)
    spike_limits: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, list[float]] = field(default_factory=dict)
    firing_share: dict[str, float] = field(default_factory=dict)
    off: dict[str, float] = field(default_factory=dict)
    forced_on: dict[str, float] = field(default_factory=dict)
    firing_checked: str = "in_sample"
    heldout_batches: int = 0
    heldout_firing_share: dict[str, float] = field(default_factory=dict)
    feed_volume_sd_mL: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def stuck_duration_h(self, var: str, cfg: RulesConfig, dt_h: float = 1.0) -> float:
        """Hours from the first to the last repeated reading that make ``var`` stuck.

        The stuck rule flags each row that repeats its predecessor; a run of n flagged rows
        lasts (n - 1) x ``dt_h`` and spans n flat steps (``flat_run_h`` counts steps). So a
        run longer than any in training lasts ``flat_run_h``, and a run of n repeats with
        p^n x 2,400 rows per 100 batch-days under ``STUCK_CHANCE_PER_100_BATCH_DAYS`` lasts
        (n - 1) x ``dt_h``; the longest of these and the config's ``stuck_duration_h``.
        """
        rows = 100.0 * 24.0 / max(dt_h, 1e-9)  # rows in 100 batch-days
        n, p = 1, self.flat_share.get(var, 0.0)
        while p > 0.0 and rows * p**n > STUCK_CHANCE_PER_100_BATCH_DAYS and n < 1000:
            n += 1
        chance_h = (n - 1) * dt_h
        return max(cfg.stuck_duration_h, self.flat_run_h.get(var, 0.0), chance_h)

    def at_limit(self, var: str, x: np.ndarray) -> np.ndarray:
        """(T,) the reading sits at a physical limit or at the edge of its training range."""
        lo, hi = PHYSICAL_LIMITS.get(var, (None, None))
        out = np.zeros(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                out |= x <= lo
            if hi is not None:
                out |= x >= hi
            if var in self.ranges and var not in PHYSICAL_LIMITS:
                a, b = self.ranges[var]
                eps = 1e-6 * max(b - a, 1e-9)
                out |= (x <= a + eps) | (x >= b - eps)
        return out

    def notes(self) -> list[str]:
        """Plain sentences for the report: rules off and why, with the key to turn them on."""
        out = []
        for name, share in self.off.items():
            out.append(
                f"rule `{name}` fired on {share:.0%} of the {self.n_batches} fault-free training "
                f"batches, so it is switched off (switch it back on with "
                f"`anomaly.rules.force_on: [{name}]`)"
            )
        for var, why in self.stuck_off.items():
            out.append(f"rule `stuck_{var}` is off: {why}")
        for name, share in self.forced_on.items():
            out.append(
                f"rule `{name}` fires on {share:.0%} of the training batches but is forced on"
            )
        return out


def fit_rule_profile(
    batches: list[pd.DataFrame],
    cfg: RulesConfig,
    evaluate,
    variables: RuleVariables | None = None,
    folds: list[tuple[list[str], list[str]]] | None = None,
    heldout: list[pd.DataFrame] = (),
) -> RuleProfile:
    """Learn noise, ranges and spike limits, then each rule's firing share on ``batches``.

    Args:
        batches: fault-free training batches, each sorted by time.
        cfg: rule settings (``auto_off_share``, ``force_on``, stuck and spike settings).
        evaluate: ``evaluate(rows, profile) -> [RuleResult]``, the rules as detection runs
            them (the detector's consistency model and agitation maximum bound in).
        variables: the process column of each rule part (None: the CHO columns); noise and
            ranges are learned per part, in the part's unit.
        folds: ``[(train_ids, held_out_ids), ...]`` over ``[str(i) for i in
            range(len(batches))]``: firing shares counted out of fold (None: in sample).
        heldout: further normal batches used for nothing else: the share of them each
            rule fires on is measured (``heldout_firing_share``), not acted on.
    """
    p = learn_signals(batches, cfg, variables)
    if folds:
        ids = [str(i) for i in range(len(batches))]
        fired = oof_firing(
            batches, ids, folds,
            lambda bs: learn_signals(bs, cfg, variables),
            lambda bs, prof: count_firing(bs, cfg, evaluate, prof),
        )  # fmt: skip
        p.firing_checked = "out_of_fold"
    else:
        fired = count_firing(batches, cfg, evaluate, p)
    n = max(len(batches), 1)
    p.firing_share = {k: round(v / n, 4) for k, v in sorted(fired.items())}
    for name, share in p.firing_share.items():
        if switch_off(fired[name], n, cfg.auto_off_share):
            (p.forced_on if name in cfg.force_on else p.off)[name] = share
    if len(heldout):
        held = count_firing(list(heldout), cfg, lambda b, prof: [
            r for r in evaluate(b, prof) if r.name not in p.off
        ], p)  # fmt: skip
        p.heldout_batches = len(heldout)
        p.heldout_firing_share = {k: round(v / len(heldout), 4) for k, v in sorted(held.items())}
    return p


def learn_signals(
    batches: list[pd.DataFrame], cfg: RulesConfig, variables: RuleVariables | None = None
) -> RuleProfile:
    """Noise, flat runs, spike limits and ranges of the rule parts on ``batches`` (no
    firing shares yet)."""
    p = RuleProfile(n_batches=len(batches))
    rv = variables or RuleVariables.cho()
    views = [rv.view(b) for b in batches]
    rows = []
    for v in views:
        keep = v["time_h"] >= cfg.startup_h
        rows.append({c: x[keep] for c, x in v.items()})
    for var in dict.fromkeys([*cfg.stuck_variables, *cfg.spike_limits]):
        diffs, runs = [], [0.0]
        for b in rows:
            if var not in b:
                continue
            t, x = b["time_h"], b[var]
            ok = np.isfinite(x)
            t, x = t[ok], x[ok]
            if len(x) < 3:
                continue
            d = np.abs(np.diff(x))
            diffs.append(d)
            runs.append(_longest_flat_h(t, d <= cfg.stuck_tolerance))
        if not diffs:
            continue
        d = np.concatenate(diffs)
        # |x_t - x_t-1| of Gaussian noise sd s has median 0.6745 x sqrt(2) x s
        p.noise[var] = float(np.median(d) / (0.6745 * np.sqrt(2.0)))
        p.flat_run_h[var] = float(max(runs))
        flat = float(np.mean(d <= cfg.stuck_tolerance))
        p.flat_share[var] = flat
        if var in cfg.stuck_variables and flat > FLAT_SHARE_MAX:
            p.stuck_off[var] = (
                f"it repeats its previous value on {flat:.0%} of the rows of the fault-free "
                "training batches (no measurement noise, or a constant signal), so a frozen "
                "reading cannot be told from a normal one"
            )
    floor = learn_volume_floor(views, cfg)  # whole batches: windows reach before start-up
    if floor is not None:
        p.feed_volume_sd_mL = round(volume_floor_mL(cfg, floor), 6)
    for var, limit in cfg.spike_limits.items():
        p.spike_limits[var] = float(max(limit, SPIKE_NOISE_SD * p.noise.get(var, 0.0)))
    for var in dict.fromkeys(
        [
            *cfg.stuck_variables,
            "agitation_rpm",
            "airflow_L_min",
            "co2_flow_mL_min",
            "base_rate_mL_h",
        ]
    ):
        vals = [b[var] for b in rows if var in b]
        vals = [v[np.isfinite(v)] for v in vals]
        if vals and sum(len(v) for v in vals):
            v = np.concatenate(vals)
            p.ranges[var] = [float(v.min()), float(v.max())]
    return p


def count_firing(
    batches: list[pd.DataFrame], cfg: RulesConfig, evaluate, profile: RuleProfile
) -> dict[str, int]:
    """``{rule: batches of ``batches`` on which it raised an alarm}`` under ``profile``
    (every applicable rule is listed, with 0 where it never fired)."""
    fired: dict[str, int] = {}
    for b in batches:
        t = b["time_h"].to_numpy(float)
        for r in evaluate(b, profile):
            fired.setdefault(r.name, 0)
            if r.flag.any() and find_spans(
                t, r.flag, r.severity, 1, r.min_duration_h, cfg.clear_steps
            ):
                fired[r.name] += 1
    return fired


def switch_off(k: int, n: int, share: float) -> bool:
    """Whether a rule that fired on ``k`` of ``n`` normal batches is switched off: its share
    is above ``share`` and, where one firing alone is above ``share``, significantly so."""
    if k / max(n, 1) <= share:
        return False
    return n * share >= 1.0 or fires_too_often(k, n, share)


def fires_too_often(k: int, n: int, share: float, alpha: float = AUTO_OFF_ALPHA) -> bool:
    """Whether ``k`` firings on ``n`` normal batches are significantly more than ``share``:
    ``P(X >= k) < alpha`` for ``X ~ Binomial(n, share)``."""
    if share <= 0.0:
        return k > 0
    return bool(stats.binom.sf(k - 1, n, share) < alpha)


def _longest_flat_h(t: np.ndarray, flat: np.ndarray) -> float:
    """Longest run (h) of consecutive flat steps; ``flat[i]`` is the step from row i to i+1."""
    best, start = 0.0, None
    for i, f in enumerate(flat):
        if f and start is None:
            start = i
        if not f and start is not None:
            best, start = max(best, t[i] - t[start]), None
    if start is not None:
        best = max(best, t[len(flat)] - t[start])
    return float(best)
