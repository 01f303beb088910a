"""Rule reasons in the user's words: a rule part's value as the user's column shows it.

Rules compute in their parts' units (:mod:`~forecaster.anomaly.rule_vars`: DO in % air
saturation, feed in mL/h); a reason names the process column that plays the part, in the
user's column name and unit when a :class:`~forecaster.anomaly.reasons.Vocabulary` is set
(the serving layer sets one around detection), else in the process's own label and unit.
"""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.reasons import Vocabulary, current_vocabulary
from forecaster.anomaly.rule_vars import RuleVariables
from forecaster.data.errors import ConfigError

_FMT: dict[str, str] = {"ph": ".2f", "temperature_C": ".1f"}


class PartText:
    """Names and values of one rule part in the words of the current vocabulary.

    Args:
        part: the rule part (``do_pct``, ``ph``...) or any process variable.
        rv: which column plays each part.
        vocab: names and units to speak in (default: the current vocabulary).
    """

    def __init__(self, part: str, rv: RuleVariables, vocab: Vocabulary | None = None) -> None:
        self.part, self.rv = part, rv
        self.column = rv.column(part)
        self.voc = current_vocabulary(vocab)

    @property
    def label(self) -> str:
        """The user's short name of the column (``"Temp"``, ``"DO"``)."""
        try:
            return self.voc.label(self.column)
        except (ConfigError, KeyError):
            return self.column

    @property
    def label_lc(self) -> str:
        """The label inside a sentence: first letter lower case unless it starts an acronym
        (``"air/O2 sparge"``, ``"CO2 sparge"``, ``"DO"``)."""
        s = self.label
        return s if len(s) > 1 and s[1].isupper() else s[:1].lower() + s[1:]

    @property
    def unit(self) -> str:
        """The unit as it follows a number (``" %"``, ``" mg/L"``, ``""`` for pH)."""
        try:
            return self.voc.unit_text(self.column)
        except (ConfigError, KeyError):
            return ""

    @property
    def level_fmt(self) -> str:
        """Format of a DO-like level: whole numbers in %, three digits in other units."""
        return ".0f" if self.unit.strip() == "%" else ".3g"

    def shown(self, x: float) -> float:
        """A value in the part's unit -> the user's unit of the column."""
        if not np.isfinite(x):
            return float(x)
        x = self.rv.part_to_column(self.part, float(x))
        try:
            return self.voc.value(self.column, x)
        except (ConfigError, KeyError, ValueError):
            return x

    def delta(self, dx: float) -> float:
        """A difference in the part's unit -> the user's unit (no offset: degC -> degF x 1.8)."""
        return self.shown(dx) - self.shown(0.0)

    def num(self, x: float, fmt: str | None = None) -> str:
        """``x`` (part unit) as the user reads it, e.g. ``"7.12"``, ``"0.84"``."""
        v = self.shown(x)
        fmt = fmt or _FMT.get(self.part)
        if fmt:
            return f"{v:{fmt}}"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"

    def with_unit(self, x: float, fmt: str | None = None) -> str:
        """``x`` (part unit) with the user's unit, e.g. ``"12 %"``, ``"0.84 mg/L"``."""
        return f"{self.num(x, fmt)}{self.unit}"

    def delta_with_unit(self, dx: float, fmt: str = "g") -> str:
        """A difference or limit (part unit) with the user's unit, e.g. ``"1.8 F"``."""
        return f"{self.delta(dx):{fmt}}{self.unit}"
