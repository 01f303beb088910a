"""Exceptions for bad user data, bad configuration and broken run folders.

Every error renders as ONE line that says where the problem is and what was expected::

    new.csv: batch B12, column glucose_g_L, lines 15, 16, 39: value -3.2 is outside the
    physical range; expected 0 to 100 g/L

Row numbers point into the user's file: for a CSV file they are the file's *line* numbers
(the header is line 1), otherwise 1-based *data rows* (the first data row is row 1). The
word in the message (``lines`` or ``rows``) says which. The command line (``forecaster.cli``)
prints ``error: <message>`` and exits with code 2 for any :class:`DataError`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Literal

RowKind = Literal["row", "line"]

#: How many offending rows a message lists before "and N more".
MAX_ROWS_SHOWN = 5


class DataError(Exception):
    """A problem in the user's data or configuration (not a bug).

    Attributes:
        message: what is wrong, without the location.
        file: file (or other source) the data came from.
        column: column concerned.
        batch: batch concerned.
        rows: first few offending rows, numbered as in the user's file (see ``row_kind``).
        n_rows: total number of offending rows (``len(rows)`` when not given).
        row_kind: ``"line"`` (file line numbers, header = line 1) or ``"row"`` (1-based data
            rows).
        expected: what a valid value would have been, in words.
        fix: the configuration change that fixes it, if there is one.
        variable: the canonical variable when ``column`` is the user's column name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        batch: str | None = None,
        rows: Sequence[int] = (),
        n_rows: int | None = None,
        row_kind: RowKind = "row",
        expected: str | None = None,
        fix: str | None = None,
        variable: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.column = column
        self.batch = batch
        self.rows = tuple(int(r) for r in rows)
        self.n_rows = len(self.rows) if n_rows is None else int(n_rows)
        self.row_kind: RowKind = row_kind
        self.expected = expected
        self.fix = fix
        self.variable = variable

    def location(self) -> str:
        """``batch B12, column glucose_g_L, lines 15, 16`` (the parts that are known)."""
        parts = []
        if self.batch is not None:
            parts.append(f"batch {self.batch}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.rows:
            parts.append(format_rows(self.rows, self.n_rows, self.row_kind))
        return ", ".join(parts)

    def __str__(self) -> str:
        text = self.message
        if self.expected:
            text += f"; expected {self.expected}"
        if self.fix:
            text += f"; fix: {self.fix}"
        where = self.location()
        if where:
            text = f"{where}: {text}"
        if self.file:
            text = f"{self.file}: {text}"
        # One line, whatever the pieces contain (cell values can hold newlines).
        return " ".join(text.split())

    def __reduce__(self):  # keeps the attributes when pickled (e.g. by worker processes)
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[DataError], message: str, state: dict) -> DataError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class EmptyTableError(DataError):
    """The file holds no data rows or no columns."""


class NotATableError(DataError):
    """The file cannot be read as CSV or Parquet."""


class DuplicateColumnError(DataError):
    """Two columns of the file have the same name (or map to the same variable)."""


class MissingColumnError(DataError):
    """A key or required column is absent; the message suggests the closest name."""

    def __init__(
        self,
        column: str,
        *,
        available: Iterable[str] = (),
        file: str | None = None,
        looked_for: str | None = None,
        hint: str = "",
    ) -> None:
        """Build the message.

        Args:
            column: canonical name of the missing column.
            available: column names present in the file (used for the suggestion).
            file: the file.
            looked_for: the user's column name the column map expected, if any.
            hint: extra advice appended to the message.
        """
        available = [str(a) for a in available]
        wanted = looked_for or column
        close = suggest(wanted, available) or (suggest(column, available) if looked_for else [])
        msg = f"{looked_for!r} (named in the column map) not found" if looked_for else "not found"
        if close:
            msg += f"; did you mean {close[0]!r}?"
        elif available:
            shown = ", ".join(repr(a) for a in available[:8])
            more = f" and {len(available) - 8} more" if len(available) > 8 else ""
            msg += f"; the file has {shown}{more}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg, file=file, column=column)
        self.suggestions = close


class UnknownUnitError(DataError):
    """A unit string is not known for the variable; the message lists the known ones."""

    def __init__(
        self, unit: str, *, variable: str, known: Sequence[str], file: str | None = None
    ) -> None:
        msg = f"unknown unit {unit!r} for {variable}"
        super().__init__(msg, file=file, column=variable, expected="one of " + ", ".join(known))
        self.unit = unit
        self.known = tuple(known)


class UnitDimensionError(UnknownUnitError):
    """A unit pint knows, but of another dimension than the variable's (g/L for a VCD)."""

    def __init__(
        self,
        unit: str,
        *,
        variable: str,
        given: str,
        needed: str,
        known: Sequence[str],
        hint: str = "",
        file: str | None = None,
    ) -> None:
        super().__init__(unit, variable=variable, known=known, file=file)
        self.message = f"{unit!r} is {given}; {variable} needs {needed}" + (
            f": {hint}" if hint else ""
        )
        self.expected = f"{needed}: one of {', '.join(known)} or another unit of that kind"


class DataProblems(DataError):
    """Several problems found in one pass (a file's columns, a config section).

    ``str()`` is one line (every problem, numbered); :meth:`block` is one line per problem.
    The first problem's class is kept in ``problems[0]`` for callers that branch on it.
    """

    def __init__(self, problems: Sequence[DataError], *, what: str = "problems",
                 file: str | None = None) -> None:  # fmt: skip
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} {what}", file=file)

    def lines(self) -> list[str]:
        """One line per problem (without the shared file name)."""
        out = []
        for p in self.problems:
            text = str(p)
            if self.file and text.startswith(f"{self.file}: "):
                text = text[len(self.file) + 2 :]
            out.append(text)
        return out

    def block(self) -> str:
        """Header line, then one indented line per problem."""
        head = f"{self.file}: {self.message}:" if self.file else f"{self.message}:"
        return "\n".join([head, *(f"  - {line}" for line in self.lines())])

    def __str__(self) -> str:
        head = f"{self.file}: {self.message}" if self.file else self.message
        items = " ".join(f"({i}) {line}" for i, line in enumerate(self.lines(), 1))
        return " ".join(f"{head}: {items}".split())


def combine(problems: Sequence[DataError], *, what: str = "problems", file: str | None = None):
    """The one error to raise for ``problems``: itself when alone, else DataProblems."""
    flat: list[DataError] = []
    for p in problems:
        flat.extend(p.problems if isinstance(p, DataProblems) else [p])
    if len(flat) == 1:
        return flat[0]
    return DataProblems(flat, what=what, file=file)


class NonNumericError(DataError):
    """Cells that should hold numbers hold text."""


class TimeOrderError(DataError):
    """Time is missing, duplicated or decreasing within a batch."""


class RangeError(DataError):
    """Values outside the physically valid range of the variable."""


class EmptyColumnError(DataError):
    """A required column has no value at all (in the table or in one batch)."""


class ShortBatchError(DataError):
    """A batch has fewer rows than the model needs."""


class MissingBatchIdError(DataError):
    """Rows without a batch id."""


class ConfigError(DataError):
    """A bad configuration value (column map, split fractions, option)."""


class RunFolderError(DataError):
    """A run folder is incomplete or was written by an incompatible version."""


class ChecksumError(RunFolderError):
    """A run-folder file does not match the hash recorded when it was written."""


def format_rows(rows: Sequence[int], n_rows: int, kind: RowKind = "row") -> str:
    """``rows 14, 15, 38 and 12 more`` (``row 14`` for one)."""
    shown = list(rows)[:MAX_ROWS_SHOWN]
    word = kind if n_rows == 1 else kind + "s"
    text = f"{word} {', '.join(str(r) for r in shown)}"
    if n_rows > len(shown):
        text += f" and {n_rows - len(shown)} more"
    return text


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.lower())


def suggest(name: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Closest names to ``name``, ignoring case, spaces and punctuation.

    ``suggest("glucose_g_L", ["Glucose (g/L)", "Lactate (g/L)"])`` gives
    ``["Glucose (g/L)"]``.
    """
    by_key: dict[str, str] = {}
    for c in candidates:
        by_key.setdefault(_squash(str(c)), str(c))
    key = _squash(name)
    if key in by_key:
        return [by_key[key]]
    keys = [k for k in by_key if k]
    close = difflib.get_close_matches(key, keys, n=n, cutoff=0.6)
    return [by_key[k] for k in close]
