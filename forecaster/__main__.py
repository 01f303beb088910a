"""The ``forecaster`` command: ``forecaster train|predict|simulate [options]``.

Also ``python -m forecaster ...``. Each subcommand is the same command as its own entry
point, with the same options: ``train`` = ``python train.py``, ``predict`` =
``python -m forecaster.predict``, ``simulate`` = ``python -m forecaster.sim``. ``forecaster
SUBCOMMAND --help`` is short; ``--help-all`` lists every key.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from typing import NoReturn

from forecaster.cli import EXIT_USAGE, cli_main

#: subcommand -> one-line description
COMMANDS = {
    "train": "train and evaluate a run (forecaster, RF baseline, anomaly detectors, explanations)",
    "predict": "forecast, alarm and explain new batches with a trained run folder",
    "simulate": "simulate fed-batch runs with faults and write the batch table",
}


def usage() -> str:
    """The ``forecaster --help`` text."""
    lines = ["usage: forecaster {train,predict,simulate} [--help] [options]", "", "commands:"]
    lines += [f"  {name:<10}{text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "examples:",
        "  forecaster simulate --n_batches 50 --out data/sim.parquet",
        "  forecaster train --config configs/quickstart.yaml",
        "  forecaster predict --run checkpoints/quickstart --input new.csv --out results/",
        "",
        "forecaster COMMAND --help: that command's most-used options; --help-all: every key.",
    ]
    return "\n".join(lines)


def _train(argv: list[str], prog: str) -> int:
    from forecaster.pipeline.cli import _main

    return _main(argv, prog)


def _predict(argv: list[str], prog: str) -> int:
    from forecaster.serve.predict import main as predict_main

    return predict_main(argv, prog)


def _simulate(argv: list[str], prog: str) -> int:
    from forecaster.sim.cli import main as sim_main

    return sim_main(argv, prog)


_RUN = {"train": _train, "predict": _predict, "simulate": _simulate}


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Dispatch to a subcommand; exits with its code (2 with one line on a user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "--help-all", "--help_all"):
        print(usage())
        sys.exit(0 if argv else EXIT_USAGE)
    name, rest = argv[0], argv[1:]
    if name not in _RUN:
        close = difflib.get_close_matches(name, list(_RUN), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(_RUN)}"
        print(f"error: unknown command {name!r}{hint}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    cli_main(lambda: _RUN[name](rest, f"forecaster {name}"))


if __name__ == "__main__":
    main()
