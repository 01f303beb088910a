"""What the app was started with: its folders and defaults (no Streamlit here).

The app reads run folders under ``runs`` (and writes new ones there when it trains), reads
data files under ``data`` (and saves uploads into ``data/uploads/``) and reads training
configs under ``configs`` and the outputs of ``forecaster optimize`` under ``results`` (and
under ``runs``); nothing else on disk.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AppSettings", "DEMO_CONFIG", "build_parser"]

#: The config of the demo run offered when there is no run folder yet.
DEMO_CONFIG = "quickstart.yaml"


@dataclass(frozen=True)
class AppSettings:
    """Folders and defaults of one app.

    Attributes:
        runs: folder of run folders (``checkpoints``).
        data: folder of data files, or one data file (preselected; its folder is the data
            folder).
        configs: folder of training configs (``configs``).
        run: run folder name preselected (default: the newest).
        results: folder searched for ``forecaster optimize`` output folders (``results``).
    """

    runs: Path = Path("checkpoints")
    data: Path = Path("data")
    configs: Path = Path("configs")
    run: str | None = None
    results: Path = Path("results")

    @property
    def data_dir(self) -> Path:
        """The folder of data files (the folder of ``data`` when it is a file)."""
        return self.data.parent if self.data.suffix else self.data

    @property
    def data_file(self) -> Path | None:
        """The preselected data file, if ``data`` names one."""
        return self.data if self.data.suffix else None

    @property
    def uploads(self) -> Path:
        """Where uploaded files are saved."""
        return self.data_dir / "uploads"

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> AppSettings:
        """Settings from the app's own arguments (those after ``--`` of ``streamlit run``)."""
        ns, _ = build_parser().parse_known_args(list(argv))
        return cls(Path(ns.runs), Path(ns.data), Path(ns.configs), ns.run, Path(ns.results))


def build_parser(prog: str = "forecaster app") -> argparse.ArgumentParser:
    """The options of ``forecaster app`` that the app itself reads."""
    p = argparse.ArgumentParser(
        prog=prog, description="Serve the web app on 127.0.0.1 (Streamlit)."
    )
    p.add_argument("--runs", default="checkpoints", help="folder of run folders [checkpoints]")
    p.add_argument("--data", default="data", help="folder of data files, or one data file [data]")
    p.add_argument("--configs", default="configs", help="folder of training configs [configs]")
    p.add_argument(
        "--results", default="results", help="folder of forecaster optimize outputs [results]"
    )
    p.add_argument("--run", default=None, help="run folder name to open first [the newest]")
    return p
