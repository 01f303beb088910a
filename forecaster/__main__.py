"""The ``forecaster`` command: ``forecaster train|predict|simulate|optimize|app [options]``.

Also ``python -m forecaster ...``. Each subcommand is the same command as its own entry
point, with the same options: ``train`` = ``python train.py``, ``predict`` =
``python -m forecaster.predict``, ``simulate`` = ``python -m forecaster.sim``; ``optimize``
ranks key factors and recommends a recipe (:mod:`forecaster.serve.optimize`); ``app`` serves
the web app (``streamlit run`` on :mod:`forecaster.serve.app`, on 127.0.0.1). ``forecaster
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
    "optimize": "key factors across batches, a recommended recipe and feed plans",
    "app": "serve the web app on 127.0.0.1 (run folders, batches, charts, golden-batch compare)",
}


def usage() -> str:
    """The ``forecaster --help`` text."""
    lines = [
        "usage: forecaster {train,predict,simulate,optimize,app} [--help] [options]",
        "",
        "commands:",
    ]
    lines += [f"  {name:<10}{text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "examples:",
        "  forecaster simulate --n_batches 50 --out data/sim.parquet",
        "  forecaster train --config configs/quickstart.yaml",
        "  forecaster predict --run checkpoints/quickstart --input new.csv --out results/",
        "  forecaster optimize --run checkpoints/quickstart --input batches.csv --out opt/",
        "  forecaster app --runs checkpoints --data data --port 8501",
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


def _optimize(argv: list[str], prog: str) -> int:
    from forecaster.serve.optimize import main as optimize_main

    return optimize_main(argv, prog)


def _app(argv: list[str], prog: str) -> int:
    """Replace this process with ``streamlit run`` on the app (127.0.0.1, headless)."""
    import importlib.util
    import os

    from forecaster.data.errors import DataError
    from forecaster.serve.app import MAIN
    from forecaster.serve.app.settings import build_parser

    p = build_parser(prog)
    p.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 [8501]")
    args = p.parse_args(argv)
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec("plotly") is None:
        raise DataError(
            "the web app needs streamlit and plotly: pip install 'bioreactor-forecaster[app]'"
        )
    ours = ["--runs", args.runs, "--data", args.data, "--configs", args.configs]
    ours += ["--run", args.run] if args.run else []
    ours += ["--results", args.results] if getattr(args, "results", None) else []
    cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN), "--server.address", "127.0.0.1",
           "--server.port", str(args.port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal", "--", *ours]  # fmt: skip
    print(f"serving on http://127.0.0.1:{args.port} (Ctrl-C stops)", file=sys.stderr, flush=True)
    os.execv(sys.executable, cmd)
    return 0  # not reached


_RUN = {"train": _train, "predict": _predict, "simulate": _simulate, "optimize": _optimize,
        "app": _app}  # fmt: skip


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
