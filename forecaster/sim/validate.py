"""Configuration checks: one clear message per bad value, raised as :class:`SimConfigError`."""

from __future__ import annotations

from dataclasses import fields

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.sim.config import Dist, SimConfig
from forecaster.sim.feed_policy import POLICIES


class SimConfigError(ConfigError):
    """A simulator configuration value is invalid (message names the key)."""


def _fail(key: str, value: object, expected: str) -> None:
    raise SimConfigError(f"sim config {key} = {value!r} is invalid", expected=expected)


def _multiple(a: float, b: float) -> bool:
    q = a / b
    return abs(q - round(q)) < 1e-6 and round(q) >= 1


def check_config(cfg: SimConfig) -> None:
    """Raise SimConfigError on the first invalid value."""
    if cfg.n_batches < 1:
        _fail("n_batches", cfg.n_batches, "an integer >= 1")
    if not 0 < cfg.dt_h <= 0.5:
        _fail("dt_h", cfg.dt_h, "a step in (0, 0.5] h")
    if cfg.sample_interval_h <= 0 or not _multiple(cfg.sample_interval_h, cfg.dt_h):
        _fail("sample_interval_h", cfg.sample_interval_h, f"a multiple of dt_h = {cfg.dt_h}")
    if cfg.assay_interval_h <= 0 or not _multiple(cfg.assay_interval_h, cfg.sample_interval_h):
        _fail(
            "assay_interval_h",
            cfg.assay_interval_h,
            f"a multiple of sample_interval_h = {cfg.sample_interval_h}",
        )
    if cfg.run_length_spread_days < 0:
        _fail("run_length_spread_days", cfg.run_length_spread_days, "an integer >= 0")
    shortest = (cfg.run_length_days - cfg.run_length_spread_days) * 24.0
    if shortest < 24.0 or not _multiple(shortest, cfg.sample_interval_h):
        _fail(
            "run_length_days",
            cfg.run_length_days,
            "at least 1 day (after the spread) and a whole number of sample intervals",
        )
    if cfg.feed_policy not in POLICIES:
        _fail("feed_policy", cfg.feed_policy, f"one of {', '.join(POLICIES)}")
    for f in fields(cfg.variability):
        d: Dist = getattr(cfg.variability, f.name)
        key = f"variability.{f.name}"
        if d.cv < 0:
            _fail(f"{key}.cv", d.cv, "a coefficient of variation >= 0")
        if d.lo is not None and d.hi is not None and d.lo > d.hi:
            _fail(f"{key}.lo", d.lo, f"lo <= hi = {d.hi}")
        if d.step < 0:
            _fail(f"{key}.step", d.step, "a rounding step >= 0")
    if not 0.0 <= cfg.faults.rate <= 1.0:
        _fail("faults.rate", cfg.faults.rate, "a probability in [0, 1]")
    total = 0.0
    for name in schema.FAULT_TYPES:
        spec = getattr(cfg.faults, name)
        key = f"faults.{name}"
        total += spec.weight
        if spec.weight < 0:
            _fail(f"{key}.weight", spec.weight, "a weight >= 0")
        if spec.start_h[0] > spec.start_h[1] or spec.start_h[0] < 0:
            _fail(f"{key}.start_h", list(spec.start_h), "[lo, hi] with 0 <= lo <= hi (h)")
        if spec.duration_h is not None and not 0 < spec.duration_h[0] <= spec.duration_h[1]:
            _fail(f"{key}.duration_h", list(spec.duration_h), "[lo, hi] with 0 < lo <= hi (h)")
        if spec.severity[0] > spec.severity[1] or spec.severity[0] < 0:
            _fail(f"{key}.severity", list(spec.severity), "[lo, hi] with 0 <= lo <= hi")
        if name in schema.SENSOR_FAULTS:
            allowed = ("do_pct", "ph", "temperature_C")
            if spec.weight > 0 and (not spec.variables or set(spec.variables) - set(allowed)):
                _fail(f"{key}.variables", list(spec.variables), f"a non-empty subset of {allowed}")
    if cfg.faults.rate > 0 and total <= 0:
        _fail("faults.rate", cfg.faults.rate, "0 when every fault weight is 0")
    c = cfg.control
    if not 0 < c.agitation_min_rpm < c.agitation_max_rpm:
        _fail("control.agitation_min_rpm", c.agitation_min_rpm, "0 < min < agitation_max_rpm")
    if not 0 < c.airflow_min_L_min < c.airflow_max_L_min:
        _fail("control.airflow_min_L_min", c.airflow_min_L_min, "0 < min < airflow_max_L_min")
    if not 0 <= c.ph_deadband < 0.5:
        _fail("control.ph_deadband", c.ph_deadband, "a dead band 0 <= band < 0.5 (pH units)")
    if c.ph_reset_time_h <= 0:
        _fail("control.ph_reset_time_h", c.ph_reset_time_h, "an integral time > 0 (h)")
    if cfg.feed.noise_cv < 0:
        _fail("feed.noise_cv", cfg.feed.noise_cv, "a coefficient of variation >= 0")
