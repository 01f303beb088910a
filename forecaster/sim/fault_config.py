"""Fault configuration: overall rate, and per fault type its weight, timing and severity.

Severity is dimensionless and means, per type:

=============================  ==============================================================
aeration_failure               fraction of sparge oxygen transfer (kLa) lost
ph_control_failure             base pump: fraction of base not delivered; CO2 valve: stuck
                               open at this fraction of its maximum flow (mode drawn 50/50)
feed_pump_failure              fraction of the commanded feed not delivered
temperature_control_failure    temperature offset from setpoint = severity x 3 C (sign drawn)
contamination                  bacterial max specific growth rate = severity x 0.9 1/h
sensor_drift                   final reading offset = severity x (0.3 pH or -40 % DO)
sensor_stuck                   (unused; recorded as 1)
sensor_spikes                  spike height = severity x (30 % DO, 0.3 pH, 3 C)
=============================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultSpec:
    """One fault type.

    Attributes:
        weight: relative probability of this type among faulty batches (0 = never).
        start_h: window (h) the fault start is drawn from, uniformly.
        duration_h: window (h) of the duration; None = lasts until harvest.
        severity: window of the severity (see module docstring for its meaning).
        variables: for sensor faults, the readings it may hit (one drawn per fault).
    """

    weight: float = 1.0
    start_h: tuple[float, float] = (72.0, 264.0)
    duration_h: tuple[float, float] | None = (6.0, 24.0)
    severity: tuple[float, float] = (0.8, 1.0)
    variables: tuple[str, ...] = ()


@dataclass
class FaultsConfig:
    """Faults: at most one per batch, with probability ``rate``.

    Start windows are chosen so that every fault is visible in the data it acts on (e.g.
    an aeration failure needs an oxygen demand the headspace cannot meet, from about day 2.5).
    """

    rate: float = 0.4
    aeration_failure: FaultSpec = field(
        default_factory=lambda: FaultSpec(1.0, (60.0, 264.0), (4.0, 16.0), (0.85, 1.0))
    )
    ph_control_failure: FaultSpec = field(
        default_factory=lambda: FaultSpec(1.0, (56.0, 110.0), (12.0, 30.0), (0.8, 1.0))
    )
    feed_pump_failure: FaultSpec = field(
        default_factory=lambda: FaultSpec(1.0, (72.0, 216.0), (36.0, 72.0), (1.0, 1.0))
    )
    temperature_control_failure: FaultSpec = field(
        default_factory=lambda: FaultSpec(1.0, (24.0, 264.0), (6.0, 30.0), (0.4, 1.0))
    )
    contamination: FaultSpec = field(
        default_factory=lambda: FaultSpec(1.0, (48.0, 264.0), None, (0.5, 1.0))
    )
    sensor_drift: FaultSpec = field(
        default_factory=lambda: FaultSpec(
            1.0, (24.0, 264.0), (12.0, 48.0), (0.6, 1.0), ("do_pct", "ph")
        )
    )
    sensor_stuck: FaultSpec = field(
        default_factory=lambda: FaultSpec(
            1.0, (24.0, 288.0), (6.0, 36.0), (1.0, 1.0), ("do_pct", "ph", "temperature_C")
        )
    )
    sensor_spikes: FaultSpec = field(
        default_factory=lambda: FaultSpec(
            1.0, (24.0, 300.0), (2.0, 12.0), (0.6, 1.0), ("do_pct", "ph", "temperature_C")
        )
    )
