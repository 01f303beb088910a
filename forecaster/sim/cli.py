"""Command line: ``python -m forecaster.sim --config configs/sim/default.yaml --out run.parquet``.

Writes the batch table (Parquet or CSV by extension) and beside it ``<stem>.faults.csv``,
``<stem>.batches.csv``, ``<stem>.config.yaml`` (resolved config) and ``<stem>.png`` (a few
batches), each atomically; prints a short summary. Every SimConfig key is an option
(``--n_batches 50 --seed 3 --faults.rate 0.5``). Bad values: one line on stderr, exit 2.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from jsonargparse import ActionConfigFile, ArgumentParser

from forecaster.sim.config import SimConfig
from forecaster.sim.plot import plot_batches, save_figure
from forecaster.sim.result import SimResult
from forecaster.sim.simulate import simulate
from forecaster.sim.validate import SimConfigError

SUFFIXES = (".parquet", ".csv")


def build_parser() -> ArgumentParser:
    """Parser with every SimConfig field at the root, plus --config, --out, --n_plot."""
    parser = ArgumentParser(
        prog="python -m forecaster.sim",
        description="Simulate CHO fed-batch runs with faults and write the batch table.",
        exit_on_error=False,
        allow_abbrev=False,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML with SimConfig keys")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
        out = Path(ns.out)
        if out.suffix not in SUFFIXES:
            raise SimConfigError(
                f"--out {ns.out!r} has an unknown extension", expected=".parquet or .csv"
            )
        init = parser.instantiate(ns)
        cfg = SimConfig(**{f.name: getattr(init, f.name) for f in dataclasses.fields(SimConfig)})
        sim_only = ns.clone()
        for key in ("config", "out", "n_plot"):  # the resolved SimConfig, not where it went
            del sim_only[key]
        resolved = parser.dump(sim_only, skip_none=False, skip_check=True)
        result = simulate(cfg, progress=True)
        write_result(result, out, ns.n_plot, resolved)
    except (SimConfigError, ValueError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except Exception as err:  # jsonargparse's ArgumentError and friends: bad options
        if type(err).__name__ in ("ArgumentError", "ParserError", "NSKeyError"):
            print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
            return 2
        raise
    print(f"wrote {out} ({len(result.table)} rows)")
    print(summary(result))
    return 0
