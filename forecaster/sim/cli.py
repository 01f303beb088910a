"""Command line: ``python -m forecaster.sim --config configs/sim/default.yaml --out run.parquet``.

Writes the batch table (Parquet or CSV by extension) and beside it ``<stem>.faults.csv``,
``<stem>.batches.csv``, ``<stem>.config.yaml`` (resolved config) and ``<stem>.png`` (a few
batches), each atomically; prints a short summary. Every SimConfig key is an option
(``--n_batches 50 --seed 3 --faults.rate 0.5``); the convention of every command (see
:func:`forecaster.cli.make_parser`): a short ``--help``, every key under ``--help-all``, and a
bad key or value as one line naming the file (or the command line) and the key, exit 2.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from forecaster.data.errors import DataError
from forecaster.sim.config import SimConfig
from forecaster.sim.plot import plot_batches, save_figure
from forecaster.sim.result import SimResult
from forecaster.sim.simulate import simulate
from forecaster.sim.validate import SimConfigError, check_config

SUFFIXES = (".parquet", ".csv")


#: Keys listed by ``--help`` ("" = their own help); every key: ``--help-all``.
COMMON_KEYS = {
    "out": "",
    "n_batches": "",
    "seed": "",
    "run_length_days": "",
    "sample_interval_h": "",
    "feed_policy": "",
    "faults.rate": "share of batches with a fault",
    "n_plot": "",
}


def build_parser(prog: str = "python -m forecaster.sim"):
    """Parser with every SimConfig field at the root, plus --config, --out, --n_plot."""
    from forecaster.cli import make_parser

    parser = make_parser(
        prog,
        "Simulate CHO fed-batch runs with faults and write the batch table.",
        COMMON_KEYS,
        usage="--out FILE.parquet|FILE.csv [--config FILE] [--KEY VALUE ...]",
    )
    parser.add_class_arguments(SimConfig)
    parser.add_argument("--out", type=str, required=True, help="table path, .parquet or .csv")
    parser.add_argument("--n_plot", type=int, default=4, help="batches in the PNG (0 = none)")
    return parser


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_result(result: SimResult, out: Path, n_plot: int = 4, config_yaml: str = "") -> None:
    """Write the table at ``out`` and the fault table, batch table, config and PNG beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    if out.suffix == ".parquet":
        atomic_write(out, lambda p: result.table.to_parquet(p, index=False))
    else:
        atomic_write(out, lambda p: result.table.to_csv(p, index=False))
    atomic_write(Path(f"{stem}.faults.csv"), lambda p: result.faults.to_csv(p, index=False))
    atomic_write(Path(f"{stem}.batches.csv"), lambda p: result.batches.to_csv(p, index=False))
    if config_yaml:
        atomic_write(Path(f"{stem}.config.yaml"), lambda p: Path(p).write_text(config_yaml))
    if n_plot > 0:
        fig = plot_batches(result, n=n_plot)
        atomic_write(Path(f"{stem}.png"), lambda p: save_figure(fig, p))


def summary(result: SimResult) -> str:
    """A few lines: batches, faults per type, harvest titer and peak VCD."""
    b = result.batches
    counts = result.faults["type"].value_counts().sort_index() if len(result.faults) else {}
    per_type = ", ".join(f"{k} {v}" for k, v in dict(counts).items()) or "none"
    titer = b["harvest_titer_true_mg_L"]
    return "\n".join(
        (
            f"batches: {len(b)} ({len(result.faults)} with a fault: {per_type})",
            f"harvest titer (true): mean {titer.mean():.0f} mg/L, "
            f"range {titer.min():.0f}-{titer.max():.0f} mg/L",
            f"peak VCD (true): mean {b['peak_vcd_true_1e6_cells_mL'].mean():.1f} 1e6 cells/mL",
        )
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m forecaster.sim") -> int:
    """Run the command line; returns the exit code (2 with one line on a user error)."""
    from forecaster.cli import error_line, located_error, parse_args

    parser = build_parser(prog)
    try:
        ns, sources = parse_args(parser, argv)
        out = Path(ns.out)
        if out.suffix not in SUFFIXES:
            raise SimConfigError(
                f"--out {ns.out!r} has an unknown extension", expected=".parquet or .csv"
            )
        try:
            init = parser.instantiate(ns)
            cfg = SimConfig(
                **{f.name: getattr(init, f.name) for f in dataclasses.fields(SimConfig)}
            )
            check_config(cfg)
        except SimConfigError as err:
            m = re.match(r"sim config (\S+) =", err.message)
            raise located_error(err, sources, key=m.group(1) if m else None) from None
        except (ValueError, TypeError) as err:
            raise located_error(err, sources, SimConfig) from None
        sim_only = ns.clone()
        for key in ("config", "out", "n_plot"):  # the resolved SimConfig, not where it went
            sim_only.pop(key, None)
        resolved = parser.dump(sim_only, skip_none=False, skip_check=True)
        result = simulate(cfg, progress=True)
        write_result(result, out, ns.n_plot, resolved)
    except DataError as err:
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(result.table)} rows)")
    print(summary(result))
    return 0
