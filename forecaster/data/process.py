"""Process definitions: the variables of a process, their units, roles, ranges and targets.

The process is data, not code: a :class:`Process` lists the variables a batch table may hold
(name with unit, role, valid range, label, whether it is known in advance), names the one
*product* (the forecasting target) and the primary *feed* (optional). Two presets are built
in; a run config starts from one and changes it in ``data.process``::

    data:
      process:
        preset: microbial_fedbatch          # or cho_fedbatch (the default, = schema.VARIABLES)
        ranges: {volume_L: [0, 120000]}     # re-range a variable (its own unit)
        drop: [offgas_o2_pct]               # a variable this plant does not log
        variables:                          # add one
          paa_g_L: {unit: g/L, role: offline, range: [0, 50], label: PAA}
        ignore_columns: [Fault flag]        # columns of the file nobody should read
        do_saturation_mg_L: 7.4             # DO % <-> mg/L (default: from the temperature)

Roles: ``online`` (dense sensor), ``offline`` (sparse assay), ``control`` (manipulated input
or feed, logged online), ``setpoint`` and ``static`` (initial condition, constant per batch).
In ``variables`` the role may also be ``product`` (an offline assay that becomes the
product), ``feed`` (a control that becomes the primary feed), ``input``, ``assay`` or
``initial``. Set points and static values are ``known_in_advance`` (planned recipe values).
The CHO preset holds the planned recipe as static columns (``schema.PLAN``: feed start, shift
time and temperature, harvest time), which the simulator writes on every row; the models take
them as inputs from the first row on (known future inputs), and ``model.exclude_inputs``
trains without them.

A run config's ``data.process`` section is :class:`forecaster.data.process_config.ProcessConfig`.
The resolved definition is plain values (:meth:`Process.to_dict`), stored with the run so
prediction reads it back (:meth:`Process.from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal

from forecaster import schema
from forecaster.data import unit_registry
from forecaster.data.errors import ConfigError, DataError, DataProblems, suggest

Role = Literal["online", "offline", "control", "setpoint", "static"]
ROLES: tuple[str, ...] = ("online", "offline", "control", "setpoint", "static")
ROLE_ALIASES = {
    "product": "offline",
    "assay": "offline",
    "feed": "control",
    "input": "control",
    "manipulated": "control",
    "initial": "static",
    "signal": "online",
    "set_point": "setpoint",
}
VARIABLE_KEYS = ("unit", "role", "range", "label", "known_in_advance", "molar_mass_g_mol",
                  "dissolved_oxygen")  # fmt: skip


@dataclass(frozen=True)
class ProcessVariable:
    """One variable of a process (a column of the batch table).

    Attributes:
        name: column name, unit included by convention (``biomass_g_L``).
        unit: the unit the batch table stores it in (any unit pint parses).
        role: online, offline, control, setpoint or static.
        lo, hi: valid range (inclusive) in ``unit``; outside is a data error.
        label: short human name for plots and messages.
        known_in_advance: a planned recipe value (set points, static values).
        molar_mass_g_mol: enables mass <-> molar concentration units.
        dissolved_oxygen: a DO reading: % air saturation <-> mg/L through the process's
            saturation concentration.
    """

    name: str
    unit: str
    role: Role
    lo: float = -math.inf
    hi: float = math.inf
    label: str = ""
    known_in_advance: bool = False
    molar_mass_g_mol: float | None = None
    dissolved_oxygen: bool = False


@dataclass(frozen=True)
class Process:
    """The variables of a process, its product and its primary feed.

    Attributes:
        name: preset it came from (``cho_fedbatch``, ``microbial_fedbatch``, ``custom``).
        variables: every variable, in a stable order.
        product: the forecasting target (an offline assay, usually).
        feed: the primary feed (a control), or None for a process without one.
        do_saturation_mg_L: DO at 100 % air saturation (mg/L); None: computed from
            ``do_saturation_temperature_C`` (Benson & Krause 1984, water under air at 1 atm).
        do_saturation_temperature_C: temperature for that computation.
        ignore_columns: file columns (their names or canonical ones) that are not read.
    """

    name: str
    variables: tuple[ProcessVariable, ...]
    product: str
    feed: str | None = None
    do_saturation_mg_L: float | None = None
    do_saturation_temperature_C: float = 37.0
    ignore_columns: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names in order."""
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> ProcessVariable:
        """Look up a variable; raises ConfigError naming the closest one."""
        for v in self.variables:
            if v.name == name:
                return v
        close = suggest(name, self.names)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{name!r} is not a variable of process {self.name}{hint}")

    def with_role(self, *roles: str) -> tuple[str, ...]:
        """Names of the variables with one of ``roles``."""
        return tuple(v.name for v in self.variables if v.role in roles)

    @property
    def dense(self) -> tuple[str, ...]:
        """Variables with a value every row (all but offline assays)."""
        return self.with_role("online", "control", "setpoint", "static")

    @property
    def targets(self) -> tuple[str, ...]:
        """Columns a training file must hold: the product and, if any, the feed."""
        return (self.product,) if self.feed is None else (self.feed, self.product)

    def saturation_mg_L(self) -> float:
        """DO at 100 % air saturation used for % <-> mg/L (mg/L)."""
        if self.do_saturation_mg_L is not None:
            return float(self.do_saturation_mg_L)
        return unit_registry.oxygen_saturation_mg_L(self.do_saturation_temperature_C)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON / YAML safe; infinite bounds as None)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "variables"}
        out["ignore_columns"] = list(self.ignore_columns)
        out["variables"] = [
            {
                **{f.name: getattr(v, f.name) for f in fields(v)},
                "lo": None if math.isinf(v.lo) else v.lo,
                "hi": None if math.isinf(v.hi) else v.hi,
            }
            for v in self.variables
        ]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Process:
        """Rebuild a stored definition (inverse of :meth:`to_dict`); raises ConfigError."""
        try:
            variables = tuple(
                ProcessVariable(
                    **{
                        **v,
                        "lo": -math.inf if v.get("lo") is None else float(v["lo"]),
                        "hi": math.inf if v.get("hi") is None else float(v["hi"]),
                    }
                )
                for v in data["variables"]
            )
            rest = {k: data[k] for k in data if k != "variables"}
            rest["ignore_columns"] = tuple(rest.get("ignore_columns") or ())
            process = cls(variables=variables, **rest)
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"not a stored process definition ({err})") from None
        check(process)
        return process


#: Molar masses (g/mol) for mass <-> molar concentrations of the CHO metabolites: glucose,
#: lactate (lactic acid), glutamine, ammonia (NH3).
MOLAR_MASS_G_MOL: dict[str, float] = {
    "glucose_g_L": 180.16,
    "feed_glucose_g_L": 180.16,
    "lactate_g_L": 90.08,
    "glutamine_mM": 146.14,
    "ammonia_mM": 17.03,
}


def _cho() -> Process:
    do = {"do_pct", "do_setpoint_pct"}
    variables = tuple(
        ProcessVariable(
            v.name,
            v.unit,
            v.role,
            v.lo,
            v.hi,
            v.label,
            known_in_advance=v.role in ("setpoint", "static"),
            molar_mass_g_mol=MOLAR_MASS_G_MOL.get(v.name),
            dissolved_oxygen=v.name in do,
        )  # fmt: skip
        for v in schema.VARIABLES
    )
    return Process("cho_fedbatch", variables, product=schema.TITER, feed=schema.FEED)


def _microbial() -> Process:
    """Microbial fed-batch (E. coli, yeast, penicillin): bench to 200 m3, flows in L/h."""
    pv = ProcessVariable
    variables = (
        pv("do_mg_L", "mg/L", "online", 0.0, 100.0, "DO", dissolved_oxygen=True),
        pv("ph", "pH", "online", 0.0, 14.0, "pH"),
        pv("temperature_C", "degC", "online", 0.0, 80.0, "Temperature"),
        pv("volume_L", "L", "online", 0.0, 250_000.0, "Volume"),
        pv("offgas_o2_pct", "%", "online", 0.0, 100.0, "Off-gas O2"),
        pv("offgas_co2_pct", "%", "online", 0.0, 100.0, "Off-gas CO2"),
        pv("agitation_rpm", "rpm", "control", 0.0, 3000.0, "Agitation"),
        pv("airflow_L_min", "L/min", "control", 0.0, 1e6, "Aeration"),
        pv("base_flow_L_h", "L/h", "control", 0.0, 10_000.0, "Base addition"),
        pv("acid_flow_L_h", "L/h", "control", 0.0, 10_000.0, "Acid addition"),
        pv("feed_flow_L_h", "L/h", "control", 0.0, 100_000.0, "Substrate feed"),
        pv("ph_setpoint", "pH", "setpoint", 0.0, 14.0, "pH setpoint", True),
        pv("temperature_setpoint_C", "degC", "setpoint", 0.0, 80.0, "T setpoint", True),
        pv(
            "feed_substrate_g_L",
            "g/L",
            "static",
            0.0,
            1000.0,
            "Feed substrate conc.",
            True,
            molar_mass_g_mol=180.16,
        ),  # fmt: skip
        pv("biomass_g_L", "g/L", "offline", 0.0, 300.0, "Biomass (dry weight)"),
        pv("substrate_g_L", "g/L", "offline", 0.0, 500.0, "Substrate", molar_mass_g_mol=180.16),
        pv("product_g_L", "g/L", "offline", 0.0, 500.0, "Product"),
    )
    return Process("microbial_fedbatch", variables, "product_g_L", "feed_flow_L_h",
                   do_saturation_temperature_C=30.0)  # fmt: skip


PRESETS = {"cho_fedbatch": lru_cache(maxsize=1)(_cho),
           "microbial_fedbatch": lru_cache(maxsize=1)(_microbial)}  # fmt: skip


def preset(name: str) -> Process:
    """A built-in process definition; raises ConfigError naming the presets."""
    if name not in PRESETS:
        close = suggest(str(name), PRESETS)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown process preset {name!r}{hint}", expected=" or ".join(PRESETS))
    return PRESETS[name]()


def default_process() -> Process:
    """The CHO preset: today's ``schema.VARIABLES`` (what simulated data use)."""
    return preset("cho_fedbatch")


def known_variable(name: str, process: Process | None = None) -> ProcessVariable:
    """``name`` in ``process``; without one: the CHO preset, then any other preset."""
    if process is not None:
        return process.variable(name)
    for make in PRESETS.values():
        p = make()
        if name in p.names:
            return p.variable(name)
    return default_process().variable(name)  # raises, suggesting the closest CHO name


def all_preset_names() -> tuple[str, ...]:
    """Every variable name of every preset (column maps without a process accept these)."""
    return tuple(dict.fromkeys(n for make in PRESETS.values() for n in make().names))


def did_you_mean(close: list[str]) -> str:
    """``; did you mean 'x'?`` for the first suggestion, or nothing."""
    return f"; did you mean {close[0]!r}?" if close else ""


def check(process: Process) -> None:
    """Consistency of a definition: units parse, names unique, product/feed declared."""
    problems: list[DataError] = []
    seen: dict[str, str] = {}
    for v in process.variables:
        key = v.name.lower()
        if key in seen or v.name in schema.KEYS:
            problems.append(ConfigError(f"process variable {v.name!r} is declared twice"))
        seen[key] = v.name
        try:
            unit_registry.parse(v.unit)
        except ValueError as err:
            problems.append(ConfigError(f"process variable {v.name}: unit {v.unit!r}: {err}"))
    for what, name in (("product", process.product), ("feed", process.feed)):
        if name is not None and name.lower() not in seen:
            close = suggest(name, process.names)
            problems.append(ConfigError(
                f"data.process.{what}: {name!r} is not a variable of the process" + did_you_mean(close)
            ))  # fmt: skip
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise DataProblems(problems, what="problems in the process definition")
