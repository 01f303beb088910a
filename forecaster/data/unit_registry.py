"""The one pint ``UnitRegistry`` of the project, with the bioprocess conversions as contexts.

Any unit pint parses is accepted for a variable whose unit has the same dimension; two
contexts cross dimensions where the domain defines how:

- ``molar_mass`` (parameter ``mw``, g/mol): mass <-> molar concentration (g/L <-> mmol/L);
- ``do_saturation`` (parameter ``csat``, mg/L at 100 % air saturation): dissolved oxygen
  as a fraction / percentage of air saturation <-> a mass concentration (mg/L).

Added units: ``cell`` (its own dimension, so a cell density is never converted into a
biomass concentration), ``pH`` (its own dimension), ``rpm``/``rps`` as plain 1/min and 1/s
(pint's own count revolutions as 2 pi radians, which would turn 60 rpm into 6.3 /s).

Conversions are affine (``dst = a * src + b``); :func:`affine` computes ``(a, b)`` once per
pair of units and caches it, so converting a column is one NumPy multiply-add.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pint

#: Dimension of each parsed unit -> words for messages.
_DIMENSION_WORDS: dict[str, str] = {
    "[mass] / [length] ** 3": "a mass concentration",
    "[substance] / [length] ** 3": "a molar concentration",
    "[cell_count] / [length] ** 3": "a cell density (cells per volume)",
    "[length] ** 3 / [time]": "a flow (volume per time)",
    "[length] ** 3": "a volume",
    "[mass]": "a mass",
    "[temperature]": "a temperature",
    "dimensionless": "a fraction or percentage",
    "[acidity]": "pH",
    "1 / [time]": "a rate per time (e.g. rpm)",
    "[time]": "a time",
}

#: What a variable of each dimension is called when a unit of another dimension is given.
_WRONG_DIMENSION_HINTS: dict[tuple[str, str], str] = {
    ("a cell density (cells per volume)", "a mass concentration"): "did you mean a biomass "
    "variable (dry cell weight in g/L)? A cell count and a biomass are never converted",
    ("a mass concentration", "a cell density (cells per volume)"): "did you mean a viable "
    "cell density variable?",
    ("a flow (volume per time)", "a volume"): "did you mean a volume variable, or a flow in L/h?",
    ("a volume", "a flow (volume per time)"): "did you mean a flow variable?",
}

_DEFINITIONS = (
    "cell = [cell_count] = cells",
    "pH_value = [acidity] = pH",
    "revolutions_per_minute = 1 / minute = rpm",
    "revolutions_per_second = 1 / second = rps",
    "osmole = mole = Osm",
)


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """The project's registry (built once; takes a fraction of a second)."""
    ureg = pint.UnitRegistry(on_redefinition="ignore", preprocessors=[_preprocess])
    for line in _DEFINITIONS:
        ureg.define(line)
    molar = pint.Context("molar_mass", defaults={"mw": 1.0})
    molar.add_transformation(
        "[substance] / [length] ** 3",
        "[mass] / [length] ** 3",
        lambda ureg, x, mw: x * mw * ureg("g/mol"),
    )
    molar.add_transformation(
        "[mass] / [length] ** 3",
        "[substance] / [length] ** 3",
        lambda ureg, x, mw: x / (mw * ureg("g/mol")),
    )
    ureg.add_context(molar)
    oxygen = pint.Context("do_saturation", defaults={"csat": 1.0})
    oxygen.add_transformation(
        "[]", "[mass] / [length] ** 3", lambda ureg, x, csat: x * csat * ureg("mg/L")
    )
    oxygen.add_transformation(
        "[mass] / [length] ** 3", "[]", lambda ureg, x, csat: (x / (csat * ureg("mg/L"))).to("")
    )
    ureg.add_context(oxygen)
    return ureg


def _preprocess(text: str) -> str:
    """Spellings pint would misread: ``m3`` -> ``m**3``, ``°C`` -> ``degC``, ``µ`` -> ``u``."""
    s = text.replace("µ", "u").replace("μ", "u").replace("℃", "degC").replace("℉", "degF")
    s = s.replace("°", "deg").replace("×", "*").replace("%", " percent ")
    s = re.sub(r"x\s*10\^?(-?\d+)", r"1e\1", s)  # "x10^6 cells/mL" -> "1e6 cells/mL"
    return re.sub(r"(?<=[A-Za-z])([23])\b", r"**\1", s)  # "m3", "cm3", "dm3"


@lru_cache(maxsize=1024)
def parse(text: str) -> pint.Quantity:
    """A unit string as a pint quantity (scale x unit, e.g. ``1e6 cell / mL``).

    Raises:
        ValueError: pint cannot parse it (message: pint's reason, one line).
    """
    try:
        q = registry().parse_expression(str(text).strip())
    except (pint.errors.PintError, AttributeError, TypeError, SyntaxError, ValueError) as err:
        raise ValueError(" ".join(str(err).split()) or type(err).__name__) from None
    if not isinstance(q, pint.Quantity):  # a bare number such as "1"
        q = registry().Quantity(float(q), "")
    if not math.isfinite(float(q.magnitude)) or float(q.magnitude) <= 0:
        raise ValueError(f"{text!r} is not a unit")
    return q


def dimension(text: str) -> str:
    """Words for the dimension of a unit (``"a mass concentration"`` for ``g/L``)."""
    dim = str(parse(text).dimensionality)
    return _DIMENSION_WORDS.get(dim, f"a quantity of dimension {dim}")


def is_bioprocess_dimension(text: str) -> bool:
    """Whether a unit measures something a process variable can be (not a length, a force)."""
    return str(parse(text).dimensionality) in _DIMENSION_WORDS


def wrong_dimension_hint(needed: str, given: str) -> str:
    """Advice for a unit of dimension ``given`` on a variable that needs ``needed``."""
    return _WRONG_DIMENSION_HINTS.get((needed, given), "")


@lru_cache(maxsize=4096)
def affine(
    src: str, dst: str, *, mw: float | None = None, csat: float | None = None
) -> tuple[float, float]:
    """``(a, b)`` with ``value_in_dst = a * value_in_src + b``.

    Args:
        src, dst: unit strings pint parses (scales such as ``1e6 cells/mL`` allowed).
        mw: molar mass (g/mol): enables mass <-> molar concentrations.
        csat: dissolved-oxygen saturation (mg/L): enables % air saturation <-> mg/L.

    Raises:
        ValueError: a unit cannot be parsed.
        pint.DimensionalityError: the dimensions differ and no enabled context links them.
    """
    ureg = registry()
    qs, qd = parse(src), parse(dst)
    contexts, params = [], {}
    if mw is not None:
        contexts.append("molar_mass")
        params["mw"] = float(mw)
    if csat is not None:
        contexts.append("do_saturation")
        params["csat"] = float(csat)

    def through(x: float) -> float:
        q = ureg.Quantity(x * float(qs.magnitude), qs.units)
        out = q.to(qd.units, *contexts, **params) if contexts else q.to(qd.units)
        return float(out.magnitude) / float(qd.magnitude)

    b = through(0.0)
    return through(1.0) - b, b


def oxygen_saturation_mg_L(temperature_C: float) -> float:
    """Oxygen solubility in fresh water under air at 1 atm (mg/L), Benson & Krause (1984).

    ``ln C = -139.34411 + 1.575701e5/T - 6.642308e7/T^2 + 1.243800e10/T^3 - 8.621949e11/T^4``
    with T in K (the APHA Standard Methods 4500-O formula): 8.26 mg/L at 25 °C, 6.73 mg/L at
    37 °C. Broth holds somewhat less; give the measured value in the config when known.
    """
    t = float(temperature_C) + 273.15
    ln_c = -139.34411 + 1.575701e5 / t - 6.642308e7 / t**2 + 1.243800e10 / t**3
    return math.exp(ln_c - 8.621949e11 / t**4)
