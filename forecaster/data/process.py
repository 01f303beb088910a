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

The resolved definition is plain values (:meth:`Process.to_dict`), stored with the run so
prediction reads it back (:meth:`Process.from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any, Literal

from forecaster import schema
from forecaster.data import unit_registry
from forecaster.data.errors import ConfigError, DataError, DataProblems, suggest

Role = Literal["online", "offline", "control", "setpoint", "static"]
ROLES: tuple[str, ...] = ("online", "offline", "control", "setpoint", "static")
_ROLE_ALIASES = {
    "product": "offline",
    "assay": "offline",
    "feed": "control",
    "input": "control",
    "manipulated": "control",
    "initial": "static",
    "signal": "online",
    "set_point": "setpoint",
}
_VARIABLE_KEYS = ("unit", "role", "range", "label", "known_in_advance", "molar_mass_g_mol",
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


@dataclass
class ProcessConfig:
    """The ``data.process`` section of a run config (see the module docstring).

    Attributes:
        preset: the built-in definition to start from.
        variables: new variables: name -> {unit, role, range: [lo, hi], label,
            known_in_advance, molar_mass_g_mol, dissolved_oxygen}.
        drop: preset variables this process does not have.
        ranges: name -> [lo, hi] in the variable's unit (replaces the preset's range).
        ignore_columns: file columns (their names or canonical ones) that are not read.
        product: the product variable (default: the preset's, or the one declared with
            role ``product``).
        feed: the primary feed (``none``: the process has none).
        do_saturation_mg_L: DO at 100 % air saturation for % <-> mg/L.
        do_saturation_temperature_C: else computed at this temperature (preset's default).
    """

    preset: str = "cho_fedbatch"
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    ranges: dict[str, list[float]] = field(default_factory=dict)
    ignore_columns: list[str] = field(default_factory=list)
    product: str | None = None
    feed: str | None = None
    do_saturation_mg_L: float | None = None
    do_saturation_temperature_C: float | None = None

    def build(self) -> Process:
        """The resolved :class:`Process`; every problem of the section in one error."""
        return build_process(self)


def build_process(cfg: ProcessConfig | Mapping[str, Any] | None) -> Process:
    """Resolve a ``data.process`` section (dataclass or plain dict) into a Process.

    Raises:
        ConfigError: one problem; DataProblems: several, all listed.
    """
    if cfg is None:
        return default_process()
    if isinstance(cfg, Mapping):
        names = [f.name for f in fields(ProcessConfig)]
        bad = [k for k in cfg if k not in names]
        if bad:
            close = suggest(str(bad[0]), names)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"data.process: unknown key {bad[0]!r}{hint}")
        cfg = ProcessConfig(**{k: v for k, v in cfg.items() if v is not None})
    base = preset(cfg.preset)
    problems: list[DataError] = []
    here = "data.process"

    def problem(msg: str) -> None:
        problems.append(ConfigError(f"{here}.{msg}"))

    for name in cfg.drop:
        if name not in base.names:
            close = suggest(name, base.names)
            problem(f"drop: {name!r} is not in preset {base.name}" + _mean(close))
    kept = [v for v in base.variables if v.name not in cfg.drop]
    product, feed = base.product, base.feed
    new_product = new_feed = None
    lower = {v.name.lower(): v.name for v in kept}
    for name, spec in (cfg.variables or {}).items():
        if name.lower() in lower:
            problem(
                f"variables.{name}: declared twice ({lower[name.lower()]!r} is already in preset "
                f"{base.name}); change its range with data.process.ranges, or drop it first "
                f"(data.process.drop: [{lower[name.lower()]}])"
            )
            continue
        try:
            var, role = _declared(name, spec)
        except ConfigError as err:
            problems.append(err)
            continue
        if role == "product":
            if new_product is not None:
                problem(f"variables: {new_product!r} and {name!r} are both declared as product")
            new_product = name
        if role == "feed":
            if new_feed is not None:
                problem(f"variables: {new_feed!r} and {name!r} are both declared as feed")
            new_feed = name
        lower[name.lower()] = name
        kept.append(var)
    product = cfg.product or new_product or product
    feed = None if str(cfg.feed).lower() == "none" else (cfg.feed or new_feed or feed)
    by_name = {v.name: v for v in kept}
    for name, rng in (cfg.ranges or {}).items():
        if name not in by_name:
            problem(
                f"ranges: {name!r} is not a variable of the process" + _mean(suggest(name, by_name))
            )
            continue
        try:
            lo, hi = _range(rng, f"{here}.ranges.{name}")
        except ConfigError as err:
            problems.append(err)
            continue
        by_name[name] = replace(by_name[name], lo=lo, hi=hi)
    extra = {"ignore_columns": tuple(cfg.ignore_columns)}
    if cfg.do_saturation_mg_L is not None:
        extra["do_saturation_mg_L"] = float(cfg.do_saturation_mg_L)
    if cfg.do_saturation_temperature_C is not None:
        extra["do_saturation_temperature_C"] = float(cfg.do_saturation_temperature_C)
    name = base.name if not (cfg.variables or cfg.drop) else f"{base.name} (modified)"
    process = replace(base, name=name, variables=tuple(by_name.values()), product=product,
                      feed=feed, **extra)  # fmt: skip
    try:
        check(process)
    except DataProblems as err:
        problems.extend(err.problems)
    except ConfigError as err:
        problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise DataProblems(problems, what="problems in data.process")
    return process


def _mean(close: list[str]) -> str:
    return f"; did you mean {close[0]!r}?" if close else ""


def _range(value: Any, where: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: give [low, high], got {value!r}") from None
    if not lo < hi:
        raise ConfigError(f"{where}: low must be below high, got [{lo:g}, {hi:g}]")
    return lo, hi


def _declared(name: str, spec: Any) -> tuple[ProcessVariable, str]:
    """A ``variables`` entry -> (variable, role as written)."""
    where = f"data.process.variables.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: give {{unit: ..., role: ...}}, got {spec!r}")
    bad = [k for k in spec if k not in _VARIABLE_KEYS]
    if bad:
        raise ConfigError(
            f"{where}: unknown key {bad[0]!r}" + _mean(suggest(bad[0], _VARIABLE_KEYS))
        )
    if not spec.get("unit") or not spec.get("role"):
        raise ConfigError(f"{where}: needs a unit and a role")
    written = str(spec["role"]).lower()
    role = _ROLE_ALIASES.get(written, written)
    if role not in ROLES:
        raise ConfigError(
            f"{where}.role: unknown role {written!r}",
            expected="one of " + ", ".join([*ROLES, *_ROLE_ALIASES]),
        )
    lo, hi = _range(spec["range"], f"{where}.range") if "range" in spec else (-math.inf, math.inf)
    known = spec.get("known_in_advance", role in ("setpoint", "static"))
    mw = spec.get("molar_mass_g_mol")
    var = ProcessVariable(
        name, str(spec["unit"]), role, lo, hi, str(spec.get("label") or name), bool(known),
        None if mw is None else float(mw), bool(spec.get("dissolved_oxygen", False)),
    )  # fmt: skip
    return var, written


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
                f"data.process.{what}: {name!r} is not a variable of the process" + _mean(close)
            ))  # fmt: skip
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise DataProblems(problems, what="problems in the process definition")
