"""Runner shared by every command-line entry point: user errors as one line, exit code 2.

Usage in a ``__main__``::

    def main() -> int: ...

    if __name__ == "__main__":
        cli_main(main)

A :class:`~forecaster.data.errors.DataError` (bad data, bad config, broken run folder) or a
missing / unreadable file prints ``error: <one line>`` on stderr and exits with code 2; Ctrl-C
exits with 130 without a traceback. Anything else is a bug and keeps its traceback. Set
``FORECASTER_DEBUG=1`` to see the traceback of user errors too. Argument-parser errors
(argparse, jsonargparse) already exit with code 2 and pass through untouched.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from forecaster.data.errors import ConfigError, DataError

#: Exit code of a user error (same as argparse's).
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def error_line(err: BaseException) -> str:
    """One-line text of a user error."""
    if isinstance(err, OSError) and err.filename is not None and not isinstance(err, DataError):
        text = f"{err.filename}: {(err.strerror or str(err)).lower()}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def debug_mode() -> bool:
    """``FORECASTER_DEBUG=1``: user errors keep their traceback."""
    return os.environ.get("FORECASTER_DEBUG", "") not in ("", "0")


def error_text(err: BaseException) -> str:
    """What the user sees: one line, or for several problems of one file a block (a header
    line, then one indented line per problem)."""
    block = getattr(err, "block", None)
    return block() if callable(block) else error_line(err)


def cli_main(fn: Callable[[], int | None]) -> NoReturn:
    """Run ``fn`` and exit with its return code (None -> 0), turning user errors into one line.

    Args:
        fn: the command's body; returns an exit code or None.
    """
    debug = debug_mode()
    try:
        code = fn()
    except (DataError, *_FILE_ERRORS) as err:
        if debug:
            raise
        print(f"error: {error_text(err)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # output piped into e.g. ``head``, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(0 if code is None else int(code))


# --------------------------------------------------------------------- parsing
# One convention for every command (train, predict, simulate): a jsonargparse parser that
# takes ``--config FILE`` and ``--key value``; a short ``--help`` and the full listing under
# ``--help-all``; every config error (unknown key, wrong type, value refused by a config
# dataclass) as one ConfigError naming where it came from, the key and, for a typo, the
# closest valid key.

#: Where a value came from when it was given neither in a file nor on the command line.
COMMAND_LINE = "command line"
_HELPERS = {"help", "help_all", "config", "print_config"}


@dataclass
class Sources:
    """Which keys the command line and each config file set (to say where a bad value is).

    Attributes:
        cli: keys given as ``--key`` on the command line.
        files: ``(path, keys)`` of each ``--config`` file, in order.
    """

    cli: set[str] = field(default_factory=set)
    files: list[tuple[str, set[str]]] = field(default_factory=list)

    def gave(self, key: str) -> bool:
        """Whether the command line or a file set ``key`` or a key under or above it."""
        return any(_hit(keys, key) for keys in [self.cli, *(k for _, k in self.files)])

    def of(self, key: str) -> str:
        """The file (or ``command line``) that gave ``key``; else the last config file."""
        if _hit(self.cli, key):
            return COMMAND_LINE
        for path, keys in reversed(self.files):
            if _hit(keys, key):
                return path
        return self.files[-1][0] if self.files else COMMAND_LINE


def _hit(keys: set[str], key: str) -> bool:
    return any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in keys)


class _HelpAction(argparse.Action):
    """``-h/--help`` (short summary) or ``--help-all`` (every key)."""

    def __init__(self, option_strings, dest, full: bool = False, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.full = full

    def __call__(self, parser, namespace, values, option_string=None):
        text = parser.format_help() if self.full else short_help(parser)
        print(text.rstrip("\n"))
        parser.exit()


def make_parser(prog: str, description: str, common: dict[str, str] | None = None, usage: str = ""):
    """A jsonargparse parser with ``--config``, a short ``--help`` and ``--help-all``.

    Args:
        prog: the command as typed (``train.py``, ``forecaster predict``).
        description: one or two sentences.
        common: the most-used keys, listed by ``--help`` (add them to the parser), each with
            a short text (empty: the first sentence of its own help).
        usage: the arguments shown after ``prog`` on the usage line of ``--help``.

    Returns:
        The parser; errors raise instead of exiting (see :func:`parse_args`).
    """
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(
        prog=prog, description=description, exit_on_error=False, allow_abbrev=False, add_help=False
    )
    parser.add_argument("-h", "--help", action=_HelpAction, help="this short help")
    parser.add_argument(
        "--help-all", "--help_all", action=_HelpAction, full=True, help="every key with its help"
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML file with any of the keys")
    parser.common_keys = dict(common or {})
    parser.short_usage = usage or "[--config FILE] [--KEY VALUE ...]"
    return parser


def _first_sentence(text: str | None, width: int) -> str:
    text = " ".join((text or "").replace("``", "").split()).split(". ")[0].rstrip(".")
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def short_help(parser) -> str:
    """The usage line, the most-used keys with their defaults and the sections (< 60 lines)."""
    acts = {a.dest: a for a in parser._actions}
    common = getattr(parser, "common_keys", {})
    lines = [f"usage: {parser.prog} {parser.short_usage}", ""]
    lines += textwrap.wrap(parser.description or "", 96) + ["", "most-used options [default]:"]
    for key, text in common.items():
        a = acts[key]
        opt = a.option_strings[0]
        if not (a.default is None or a.default is False or a.default == argparse.SUPPRESS):
            opt += f" [{a.default}]"
        text = text if len(text) <= 66 else text[:63] + "..."
        lines.append(f"  {opt:<31} {text or _first_sentence(a.help, 66)}")
    keys, groups, _ = _keys(parser)
    sections = [(k, g.title) for k, g in parser.groups.items() if "." not in k and k in groups]
    if sections:
        lines += ["", "sections (a key as --SECTION.KEY, or nested under SECTION: in the YAML):"]
        lines += [f"  {k:<16}{_first_sentence(t, 80)}" for k, t in sections]
    lines += [
        "",
        f"  -h, --help  this help;  --help-all: all {len(keys)} keys with their help",
        "  --config FILE  YAML with any of the keys (the command line overrides it)",
    ]
    if "print_config" in acts:
        lines.append(
            "  --print_config  print the resolved config (defaults included) as YAML and exit"
        )
    return "\n".join(lines)


def _keys(parser) -> tuple[dict[str, argparse.Action], set[str], set[str]]:
    """(leaf keys with their actions, section keys, every option string) of a parser."""
    leaves: dict[str, argparse.Action] = {}
    groups: set[str] = set()
    options: set[str] = set()
    for a in parser._actions:
        options.update(s for s in a.option_strings if s.startswith("--"))
        if a.dest in _HELPERS or a.dest == argparse.SUPPRESS or not a.option_strings:
            continue
        if type(a).__name__ == "_ActionConfigLoad":
            groups.add(a.dest)
        else:
            leaves[a.dest] = a
    return leaves, groups, options


def _did_you_mean(word: str, choices: set[str], dashes: str = "") -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {dashes}{close[0]}?" if close else ""


def _dataclass_of(action: argparse.Action | None) -> type | None:
    """The dataclass in an action's ``X | None`` type hint, if any."""
    hint = getattr(action, "_typehint", None)
    for t in (hint, *typing.get_args(hint)):
        if isinstance(t, type) and dataclasses.is_dataclass(t):
            return t
    return None


def _file_keys(path: str, data: dict, leaves: dict, groups: set[str], prefix: str = "") -> set[str]:
    """Flattened keys of a config file; an unknown key raises ConfigError naming the file."""
    keys: set[str] = set()
    for name, value in data.items():
        key = f"{prefix}{name}"
        if key in leaves or (key in groups and not isinstance(value, dict)):
            keys.add(key)
            section = _dataclass_of(leaves.get(key)) if isinstance(value, dict) else None
            if section is not None:  # an optional section (``X | None``): check its keys too
                names = {f"{key}.{f.name}" for f in dataclasses.fields(section)}
                keys |= _file_keys(path, value, {n: None for n in names}, set(), key + ".")
        elif key in groups:
            keys |= _file_keys(path, value, leaves, groups, key + ".")
        elif not (prefix == "" and name in _HELPERS):
            raise ConfigError(
                f"unknown key {key}{_did_you_mean(key, {*leaves, *groups})}", file=path
            )
    return keys


def check_sources(parser, argv: Sequence[str]) -> Sources:
    """Check every ``--config`` file and ``--option`` of argv against the parser's keys.

    Raises:
        ConfigError: an unreadable file or an unknown key, with the closest valid one.
    """
    import yaml

    leaves, groups, options = _keys(parser)
    sources = Sources()
    argv = list(argv)
    for i, token in enumerate(argv):
        if not token.startswith("--"):
            continue
        opt = token.split("=", 1)[0].rstrip("+")
        if opt == "--config":
            path = token.split("=", 1)[1] if "=" in token else (argv[i + 1 : i + 2] or [""])[0]
            if not os.path.isfile(path):
                raise ConfigError("config file not found", file=path or "--config")
            try:
                with open(path, encoding="utf-8") as fh:
                    data = yaml.safe_load(fh)
            except (yaml.YAMLError, UnicodeDecodeError) as err:
                raise ConfigError(f"not valid YAML: {err}", file=path) from None
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise ConfigError("a config file must hold a mapping of keys", file=path)
            sources.files.append((path, _file_keys(path, data, leaves, groups)))
        elif opt not in options:
            raise ConfigError(
                f"unknown option {opt}{_did_you_mean(opt[2:], {*leaves, *groups}, '--')}",
                file=COMMAND_LINE,
            )
        else:
            sources.cli.add(opt[2:])
    return sources


def parse_args(parser, argv: Sequence[str] | None = None):
    """Parse argv with :func:`make_parser`'s parser; every error is one ConfigError.

    Returns:
        ``(namespace, sources)``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    sources = check_sources(parser, argv)
    try:
        ns = parser.parse_args(argv)
    except argparse.ArgumentError as err:
        text = " ".join(str(err).split())
        text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
        m = re.match(r'Parser key "([^"]+)": (.*)', text)
        if m:
            raise ConfigError(f"{m.group(1)}: {m.group(2)}", file=sources.of(m.group(1))) from None
        raise ConfigError(text, file=COMMAND_LINE) from None
    return ns, sources


def located_error(
    err: Exception,
    sources: Sources,
    root: type | None = None,
    prefix: str = "",
    key: str | None = None,
) -> ConfigError:
    """A value refused while building the config, as one ConfigError naming file and key.

    Args:
        err: the ValueError / TypeError / ConfigError raised by a config dataclass's
            ``__post_init__`` or a later check.
        sources: from :func:`parse_args`.
        root: the root config dataclass: the innermost of its sections in the traceback
            gives the key (and a field named in the message, the leaf).
        prefix: prepended to the key (``sim.`` when ``root`` is a section of a bigger config).
        key: the key, when the caller knows it.
    """
    text = " ".join(str(err).split())
    if key is None and root is not None:
        paths = _dataclass_paths(root)
        section = None
        tb = err.__traceback__
        while tb is not None:  # the innermost config object whose check failed
            obj = tb.tb_frame.f_locals.get("self")
            if dataclasses.is_dataclass(obj) and type(obj) in paths:
                section = type(obj)
            tb = tb.tb_next
        if section is not None:
            cands = [p for p in paths[section]]
            key = next((p for p in cands if sources.gave(prefix + p)), cands[0])
            fields = [f.name for f in dataclasses.fields(section)]
            named = [n for n in fields if re.search(rf"\b{n}\b", text)]
            full = [".".join(p for p in (prefix.rstrip("."), key, n) if p) for n in named]
            given = [n for n, k in zip(named, full) if sources.gave(k)]
            named = given if len(given) == 1 else named
            if len(named) == 1:
                key = f"{key}.{named[0]}" if key else named[0]
    key = f"{prefix}{key or ''}".rstrip(".")
    if key and not text.startswith(key):
        text = f"{key}: {text}"
    return ConfigError(text, file=sources.of(key) if key else sources.of(""))


def _dataclass_paths(root: type, prefix: str = "") -> dict[type, list[str]]:
    """Every dataclass type under ``root`` with its dotted paths (root itself: ``""``)."""
    out: dict[type, list[str]] = {root: [""]} if not prefix else {}
    for f in dataclasses.fields(root):
        hint = typing.get_type_hints(root).get(f.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            path = f"{prefix}{f.name}"
            out.setdefault(hint, []).append(path)
            for cls, ps in _dataclass_paths(hint, path + ".").items():
                out.setdefault(cls, []).extend(ps)
    return out
