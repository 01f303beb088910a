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

import os
import sys
from collections.abc import Callable
from typing import NoReturn

from forecaster.data.errors import DataError

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


def cli_main(fn: Callable[[], int | None]) -> NoReturn:
    """Run ``fn`` and exit with its return code (None -> 0), turning user errors into one line.

    Args:
        fn: the command's body; returns an exit code or None.
    """
    debug = os.environ.get("FORECASTER_DEBUG", "") not in ("", "0")
    try:
        code = fn()
    except (DataError, *_FILE_ERRORS) as err:
        if debug:
            raise
        print(f"error: {error_line(err)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0 if code is None else int(code))
