"""What every training stage receives: data, splits, fitted preprocessing, run folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster import schema
from forecaster.data.features import Preprocessor


@dataclass
class RunContext:
    """State shared by the stages of one training run.

    Attributes:
        cfg: the resolved run configuration (``forecaster.pipeline.config.RunConfig``).
        run_dir: the run folder ``checkpoints/<run_name>/``; each stage writes its own
            subfolder (``forecast/``, ``rf/``, ``anomaly/``, ``explain/``) and ``figures/``.
        table: every batch (canonical batch table, labels included when known).
        faults: the fault table (``schema.FAULT_TABLE_COLUMNS``; empty if none / unknown).
        splits: ``{"train"|"val"|"test": [batch_id, ...]}`` over *all* batches.
        prep: preprocessor fitted on the fault-free training batches.
        seed: the run's seed.
        writer: a ``torch.utils.tensorboard.SummaryWriter`` for figures and histograms
            (``run_dir/tb/summary``); Lightning trainers log to ``run_dir/tb/<stage>``.
        trainer_kwargs: keyword arguments for ``lightning.Trainer`` shared by all stages
            (accelerator, devices, strategy, precision, progress bar, determinism); a stage
            adds its own ``max_epochs``, callbacks and logger.
        has_labels: whether fault labels exist (user data may have none).
        sim: the simulator config when the data came from the simulator, else None.
        artifacts: objects produced by earlier stages for later ones, e.g.
            ``"forecast"`` (trained ``ForecastNet`` + helpers), ``"rf"`` (fitted RF baseline).
        report: markdown sections appended by stages, in order, for ``report.md``.
    """

    cfg: Any
    run_dir: Path
    table: pd.DataFrame
    faults: pd.DataFrame
    splits: dict[str, list[str]]
    prep: Preprocessor
    seed: int
    writer: Any = None
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    has_labels: bool = True
    sim: Any = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    report: list[str] = field(default_factory=list)

    @property
    def faulty_ids(self) -> set[str]:
        """Batches with at least one labelled fault."""
        ids = set(self.faults[schema.BATCH_ID].astype(str)) if len(self.faults) else set()
        if schema.FAULT_LABEL in self.table:
            lab = self.table[self.table[schema.FAULT_LABEL] > 0][schema.BATCH_ID]
            ids |= set(lab.astype(str))
        return ids

    def batches(self, split: str, faulty: bool | None = None) -> pd.DataFrame:
        """Rows of one split; ``faulty=False`` keeps fault-free batches, ``True`` faulty ones."""
        ids = set(self.splits[split])
        if faulty is not None:
            bad = self.faulty_ids
            ids = {b for b in ids if (b in bad) == faulty}
        return self.table[self.table[schema.BATCH_ID].isin(ids)]

    def figure_dir(self) -> Path:
        d = self.run_dir / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d
