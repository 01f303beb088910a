"""The ``data.process`` section of a run config, resolved into a :class:`Process`.

See :mod:`forecaster.data.process` for the keys; every problem of the section is reported
at once (a variable declared twice, two products, an unknown range name, a bad unit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from forecaster.data.errors import ConfigError, DataError, DataProblems, suggest
from forecaster.data.process import (
    ROLE_ALIASES,
    ROLES,
    VARIABLE_KEYS,
    Process,
    ProcessVariable,
    check,
    default_process,
    did_you_mean,
    preset,
)


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
            problem(f"drop: {name!r} is not in preset {base.name}" + did_you_mean(close))
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
    no_feed = cfg.feed is not None and str(cfg.feed).strip().lower() in ("none", "")
    feed = None if no_feed else (cfg.feed or new_feed or feed)
    by_name = {v.name: v for v in kept}
    for name, rng in (cfg.ranges or {}).items():
        if name not in by_name:
            problem(
                f"ranges: {name!r} is not a variable of the process"
                + did_you_mean(suggest(name, by_name))
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
    bad = [k for k in spec if k not in VARIABLE_KEYS]
    if bad:
        raise ConfigError(
            f"{where}: unknown key {bad[0]!r}" + did_you_mean(suggest(bad[0], VARIABLE_KEYS))
        )
    if not spec.get("unit") or not spec.get("role"):
        raise ConfigError(f"{where}: needs a unit and a role")
    written = str(spec["role"]).lower()
    role = ROLE_ALIASES.get(written, written)
    if role not in ROLES:
        raise ConfigError(
            f"{where}.role: unknown role {written!r}",
            expected="one of " + ", ".join([*ROLES, *ROLE_ALIASES]),
        )
    lo, hi = _range(spec["range"], f"{where}.range") if "range" in spec else (-math.inf, math.inf)
    known = spec.get("known_in_advance", role in ("setpoint", "static"))
    mw = spec.get("molar_mass_g_mol")
    var = ProcessVariable(
        name, str(spec["unit"]), role, lo, hi, str(spec.get("label") or name), bool(known),
        None if mw is None else float(mw), bool(spec.get("dissolved_oxygen", False)),
    )  # fmt: skip
    return var, written
