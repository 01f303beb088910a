"""What every training stage receives: data, splits, fitted preprocessing, run folder, and
the components fitted by earlier stages, each in its own typed field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forecaster import schema
from forecaster.data.features import Preprocessor
from forecaster.data.process import Process, default_process

if TYPE_CHECKING:  # annotations only: loading the context must not import Lightning
    from torch.utils.tensorboard import SummaryWriter

    from forecaster.models.baseline import RFBaseline
    from forecaster.models.sequence import SequenceForecaster
    from forecaster.pipeline.config import RunConfig
    from forecaster.sim import SimConfig


@dataclass
class RunContext:
    """State shared by the stages of one training run.

    Attributes:
        cfg: the resolved run configuration.
        run_dir: the run folder being written; each stage writes its own subfolder
            (``forecast/``, ``rf/``, ``anomaly/``, ``explain/``) and ``figures/``.
        table: every batch (canonical batch table, labels included when known).
        faults: the fault table (``schema.FAULT_TABLE_COLUMNS``; empty if none / unknown).
        splits: ``{"train"|"val"|"test": [batch_id, ...]}`` over *all* batches.
        prep: preprocessor fitted on the fault-free training batches.
        seed: the run's seed.
        writer: TensorBoard writer for figures and histograms (``run_dir/tb/summary``);
            Lightning trainers log to ``run_dir/tb/<stage>``.
        trainer_kwargs: ``lightning.Trainer`` settings shared by all stages (see
            :func:`forecaster.trainer.trainer_kwargs`).
        has_labels: whether fault labels exist (user data may have none).
        sim: the simulator config when the data came from the simulator, else None.
        forecaster: the trained sequence forecaster (set by the forecaster stage).
        rf: the fitted RandomForest baseline (set by the evaluation stage), if any.
        rf_fit_batches: the batches the RandomForest was fitted on (``{"train": [...]}``).
        report: markdown sections appended by stages, in order, for ``report.md``.
        process: the process definition (product, feed, roles); default the CHO preset.
    """

    cfg: RunConfig
    run_dir: Path
    table: pd.DataFrame
    faults: pd.DataFrame
    splits: dict[str, list[str]]
    prep: Preprocessor
    seed: int
    writer: SummaryWriter | None = None
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    has_labels: bool = True
    sim: SimConfig | None = None
    forecaster: SequenceForecaster | None = None
    rf: RFBaseline | None = None
    rf_fit_batches: dict[str, list[str]] | None = None
    report: list[str] = field(default_factory=list)
    process: Process = field(default_factory=default_process)

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

    def trained_forecaster(self) -> SequenceForecaster:
        """The forecaster stage's model; an error if a later stage runs before it."""
        if self.forecaster is None:
            raise RuntimeError("the forecaster stage has not run yet")
        return self.forecaster

    def figure_dir(self) -> Path:
        d = self.run_dir / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d
