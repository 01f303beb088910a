"""Canonical variables of the batch table: names with units, roles and valid ranges.

The batch table is long format: one row per batch per time step, keyed by ``batch_id``
(str) and ``time_h`` (float, hours since inoculation). Every other column is one of the
variables below (or a label / metadata column). Online signals are dense; offline assays are
sparse (NaN between samples); models see missing values through masks, never invented values.

Ranges are *physically possible* bounds used by validation (a value outside is an error in
the data, not an unusual batch); typical CHO fed-batch operating ranges are in
``../shared/DOMAIN.md`` and in the simulator's docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["online", "offline", "control", "setpoint", "static"]

BATCH_ID = "batch_id"
TIME = "time_h"
KEYS: tuple[str, ...] = (BATCH_ID, TIME)

#: Per-row ground-truth label columns written by the simulator (optional in user data).
FAULT_LABEL = "fault_label"  # int 0/1: a fault (physical or sensor) is active at this row
FAULT_TYPE = "fault_type"  # str: "none" or the active fault's type (see FAULT_TYPES)
LABEL_COLUMNS: tuple[str, ...] = (FAULT_LABEL, FAULT_TYPE)

#: Fault types the simulator injects. Physical faults act on the process; sensor faults
#: only on the measurement layer.
PHYSICAL_FAULTS: tuple[str, ...] = (
    "aeration_failure",
    "ph_control_failure",
    "feed_pump_failure",
    "temperature_control_failure",
    "contamination",
)
SENSOR_FAULTS: tuple[str, ...] = ("sensor_drift", "sensor_stuck", "sensor_spikes")
FAULT_TYPES: tuple[str, ...] = PHYSICAL_FAULTS + SENSOR_FAULTS

#: Columns of the per-batch fault table (``<table>.faults.csv`` beside the batch table).
#: ``affected`` is a ';'-separated list of canonical variable names.
FAULT_TABLE_COLUMNS: tuple[str, ...] = (
    BATCH_ID,
    "type",
    "start_h",
    "end_h",
    "severity",
    "affected",
)


@dataclass(frozen=True)
class Variable:
    """One canonical column.

    Attributes:
        name: column name, unit included (``glucose_g_L``).
        unit: unit as written in column maps (``g/L``).
        role: online (dense sensor), offline (sparse assay), control (actuator / operator
            input), setpoint, or static (constant per batch, known at start).
        lo, hi: physically valid range (inclusive); outside is a data error.
        label: short human name for plots and messages.
    """

    name: str
    unit: str
    role: Role
    lo: float
    hi: float
    label: str


VARIABLES: tuple[Variable, ...] = (
    # online sensors
    Variable("do_pct", "%", "online", 0.0, 200.0, "DO"),
    Variable("ph", "pH", "online", 5.5, 8.5, "pH"),
    Variable("temperature_C", "degC", "online", 15.0, 45.0, "Temperature"),
    Variable("volume_L", "L", "online", 0.0, 50_000.0, "Volume"),
    # controls (actuators and operator inputs), logged online
    Variable("agitation_rpm", "rpm", "control", 0.0, 3000.0, "Agitation"),
    Variable("airflow_L_min", "L/min", "control", 0.0, 10_000.0, "Air/O2 sparge"),
    Variable("co2_flow_mL_min", "mL/min", "control", 0.0, 100_000.0, "CO2 sparge"),
    Variable("base_rate_mL_h", "mL/h", "control", 0.0, 100_000.0, "Base addition"),
    Variable("feed_rate_mL_h", "mL/h", "control", 0.0, 1_000_000.0, "Feed rate"),
    # setpoints
    Variable("do_setpoint_pct", "%", "setpoint", 0.0, 100.0, "DO setpoint"),
    Variable("ph_setpoint", "pH", "setpoint", 6.0, 8.0, "pH setpoint"),
    Variable("temperature_setpoint_C", "degC", "setpoint", 20.0, 40.0, "T setpoint"),
    # static, known at the start of the batch
    Variable("feed_glucose_g_L", "g/L", "static", 0.0, 1000.0, "Feed glucose conc."),
    # the batch's planned recipe (static, known at the start; see PLAN)
    Variable("planned_feed_start_h", "h", "static", 0.0, 5000.0, "Planned feed start"),
    Variable("planned_shift_h", "h", "static", 0.0, 5000.0, "Planned T shift time"),
    Variable(
        "planned_post_shift_temperature_C", "degC", "static", 20.0, 40.0, "Planned T after shift"
    ),
    Variable("planned_harvest_h", "h", "static", 0.0, 5000.0, "Planned harvest time"),
    # offline assays (sparse)
    Variable("vcd_1e6_cells_mL", "1e6 cells/mL", "offline", 0.0, 200.0, "VCD"),
    Variable("viability_pct", "%", "offline", 0.0, 100.0, "Viability"),
    Variable("glucose_g_L", "g/L", "offline", 0.0, 100.0, "Glucose"),
    Variable("lactate_g_L", "g/L", "offline", 0.0, 50.0, "Lactate"),
    Variable("glutamine_mM", "mM", "offline", 0.0, 100.0, "Glutamine"),
    Variable("ammonia_mM", "mM", "offline", 0.0, 100.0, "Ammonia"),
    Variable("titer_mg_L", "mg/L", "offline", 0.0, 50_000.0, "Titer"),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
VARIABLE_NAMES: tuple[str, ...] = tuple(v.name for v in VARIABLES)
ONLINE: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "online")
CONTROLS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "control")
SETPOINTS: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "setpoint")
STATIC: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "static")
OFFLINE: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.role == "offline")
#: Dense columns (one value every row): everything that is not an offline assay.
DENSE: tuple[str, ...] = ONLINE + CONTROLS + SETPOINTS + STATIC
#: The planned recipe, decided before the batch runs and written on every row (static,
#: known in advance): feed start, temperature-shift time and the temperature after it, and
#: the harvest time. A plan without a shift in the run has ``planned_shift_h`` = the planned
#: harvest and the post-shift temperature = the pre-shift one. The simulator writes them
#: (``SimConfig.record_plan``); user data may hold them; ``model.exclude_inputs`` leaves
#: them out of the inputs.
PLAN: tuple[str, ...] = (
    "planned_feed_start_h",
    "planned_shift_h",
    "planned_post_shift_temperature_C",
    "planned_harvest_h",
)

#: Prediction targets of the CHO preset. Models and outputs read a run's product and feed
#: from its process definition / fitted preprocessing (``Preprocessor.product`` / ``.feed``);
#: these names are the defaults of CHO runs and of states saved before they were recorded.
TITER = "titer_mg_L"
FEED = "feed_rate_mL_h"
TARGETS: tuple[str, ...] = (FEED, TITER)


def variable(name: str) -> Variable:
    """Look up a canonical variable; raises KeyError naming the closest valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, VARIABLE_NAMES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise KeyError(f"unknown variable {name!r}{hint}") from None
