"""The run configuration: one YAML describes a whole training run.

Typed dataclasses are the schema: jsonargparse reads ``--config FILE`` and any key can be
overridden on the command line (``--model.cell lstm --trainer.max_epochs 5 --seed 3``). A
misspelt key, a wrong type or a value a section refuses is one :class:`ConfigError` naming
the file (or the command line), the key and, for a typo, the closest valid key. The resolved
config is written to ``<run folder>/config.yaml``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from forecaster.anomaly.config import AnomalyConfig
from forecaster.data.column_map import ColumnMap
from forecaster.data.process_config import ProcessConfig
from forecaster.explain.config import ExplainConfig
from forecaster.models.baseline import RFConfig
from forecaster.models.forecast_config import ForecastConfig
from forecaster.sim import SimConfig


@dataclass
class DataConfig:
    """Where the batches come from and how they are split.

    Attributes:
        path: a batch table (CSV/Parquet) to train on; empty = simulate with ``sim``.
        faults_path: the fault table of ``path`` (optional; without labels the anomaly
            metrics are skipped). Default: ``<path stem>.faults.csv`` if it exists.
        column_map: the user's column names and units -> canonical ones.
        process: the process definition: a preset (cho_fedbatch, microbial_fedbatch) and
            its changes (variables, drop, ranges, ignore_columns, product, feed); see
            ``forecaster/data/process.py``.
        split: train/val/test fractions of batches (stratified by faulty/normal).
        train_on_faulty: also train the forecaster on batches with faults (default: learn
            normal behaviour only; faulty test batches are still evaluated separately).
    """

    path: str | None = None
    faults_path: str | None = None
    column_map: ColumnMap = field(default_factory=ColumnMap)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    split: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    train_on_faulty: bool = False


@dataclass
class TrainerConfig:
    """Lightning Trainer settings (plain keys: the same YAML runs on CPU, GPU or DDP).

    ``accelerator``/``devices``/``strategy``/``num_nodes``/``precision`` go straight to
    ``lightning.Trainer``. ``threads``: torch CPU threads (0 = one per core). The default
    is 1: the recurrent nets here are small, and on a 2-core machine where anything else
    runs, 2 threads measured 4-15x slower than 1 (thread contention), barely faster idle.
    ``parallel_stages``: on CPU with 2+ cores, the anomaly stage trains in a second process
    beside the forecaster (:mod:`forecaster.pipeline.side_stage`): ``auto`` from 50 batches
    (below, starting a process costs more than it saves), ``true`` always, ``false`` never.

    Training length of the forecaster: ``min_steps`` optimiser steps at least (0 = none);
    the epoch limit is raised to ``ceil(min_steps / steps per epoch) + patience`` when
    ``max_epochs`` gives fewer, so 17 batches train as long as 500 do
    (:mod:`forecaster.models.training_length`). Early stopping on the validation batches
    (``patience`` epochs) may end training sooner, never before ``min_steps``. The run
    warns when training stopped at its limit while the validation loss was still falling.
    """

    max_epochs: int = 40
    patience: int = 8
    min_steps: int = 0
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    gradient_clip_val: float = 1.0
    limit_train_batches: float | int = 1.0
    limit_val_batches: float | int = 1.0
    enable_progress_bar: bool = True
    deterministic: bool = True
    threads: int = 1
    num_workers: int = 0
    parallel_stages: bool | str = "auto"


@dataclass
class ModelConfig(ForecastConfig):
    """The ``model:`` section: the sequence forecaster (``ForecastConfig``) and its
    transfer from the simulator (:mod:`forecaster.models.pretrain`).

    Attributes:
        pretrain_sim_batches: simulated batches, rendered like the training batches
            (variables, units, cadence, length), the network is fitted on before the
            training batches (0 = off). CHO-like processes only.
        pretrain_epochs: epochs over those simulated batches.
        pretrain_finetune_lr_scale: the learning rate of the fine-tuning on the training
            batches after pre-training, as a fraction of ``lr``.
    """

    pretrain_sim_batches: int = 0
    pretrain_epochs: int = 20
    pretrain_finetune_lr_scale: float = 0.5


@dataclass
class RunConfig:
    """A whole training run.

    Attributes:
        seed: one seed for the simulator, the splits, NumPy, torch and the data loaders.
        run_name: the run folder is ``<output_dir>/<run_name>``.
        resume: continue an interrupted run from ``forecast/last.ckpt`` in that folder.
        overwrite: replace an existing run folder (default: refuse, the old run is kept).
    """

    seed: int = 0
    run_name: str = "run"
    output_dir: str = "checkpoints"
    resume: bool = False
    overwrite: bool = False
    sim: SimConfig = field(default_factory=SimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    rf: RFConfig = field(default_factory=RFConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.run_name


#: Keys listed by ``train.py --help`` with a short text ("": their own help); the rest:
#: ``--help-all``.
COMMON_KEYS = {
    "run_name": "the run folder is <output_dir>/<run_name>",
    "output_dir": "",
    "seed": "one seed for the simulator, the splits, NumPy and torch",
    "resume": "",
    "overwrite": "",
    "data.path": "your batch table (CSV/Parquet); empty = simulate with sim",
    "data.faults_path": "",
    "sim.n_batches": "",
    "model.cell": "",
    "trainer.max_epochs": "most epochs of the forecaster (early stopping may end sooner)",
    "trainer.min_steps": "least optimiser steps of the forecaster (raises the epoch limit on small data)",
    "trainer.accelerator": "cpu, gpu or auto",
    "trainer.devices": "devices to train on (auto: all of the accelerator)",
    "trainer.threads": "torch CPU threads (0 = one per core)",
    "trainer.parallel_stages": "auto, true or false: on CPU, train the anomaly detector in a second process beside the forecaster",
}


def build_parser(prog: str = "train.py"):
    """The ``train.py`` argument parser (jsonargparse, see :func:`forecaster.cli.make_parser`)."""
    from forecaster.cli import make_parser

    parser = make_parser(
        prog,
        "Train and evaluate the forecaster, RF baseline, anomaly detectors and explanations; "
        "everything lands in <output_dir>/<run_name>/.",
        COMMON_KEYS,
    )
    parser.add_class_arguments(RunConfig, None, as_group=False)
    return parser


def parse_config(
    argv: list[str] | None = None, prog: str = "train.py", exit_on_error: bool = True
) -> tuple[RunConfig, str]:
    """Parse argv into a RunConfig; returns it and the resolved YAML text.

    Any bad key or value, in any section, is one :class:`ConfigError` naming the file (or the
    command line), the key and, for a misspelt key, the closest valid one. Like an argument
    parser, it is printed as ``error: ...`` and exits with code 2, unless ``exit_on_error``
    is False: then it is raised.
    """
    from forecaster.cli import EXIT_USAGE, debug_mode, error_line
    from forecaster.data.errors import ConfigError

    try:
        return _parse_config(argv, prog)
    except ConfigError as err:
        if exit_on_error and not debug_mode():
            print(f"error: {error_line(err)}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        raise


def _parse_config(argv: list[str] | None, prog: str) -> tuple[RunConfig, str]:
    from forecaster.cli import located_error, parse_args
    from forecaster.data.errors import DataError
    from forecaster.sim.validate import SimConfigError, check_config

    parser = build_parser(prog)
    ns, sources = parse_args(parser, argv)
    yaml_text = parser.dump(ns, skip_none=False)
    try:
        init = parser.instantiate(ns)
        cfg = RunConfig(**{f.name: init[f.name] for f in fields(RunConfig)})
    except (ValueError, TypeError, DataError) as err:
        raise located_error(err, sources, RunConfig) from None
    if cfg.data.path is None:  # the simulator's checks, before any work
        try:
            check_config(cfg.sim)
        except SimConfigError as err:
            m = re.match(r"sim config (\S+) =", err.message)
            raise located_error(err, sources, key=f"sim.{m.group(1)}" if m else "sim") from None
    return cfg, yaml_text


def load_config_file(path: str | os.PathLike) -> tuple[RunConfig, str]:
    """Read a config YAML (used by tests and tools)."""
    return parse_config(["--config", str(path)])
