"""bioreactor-forecaster: forecast, monitor, explain and improve fed-batch cultures.

The public API (imported lazily, so ``import forecaster`` stays light)::

    from forecaster import simulate, SimConfig        # built-in simulator with labelled faults
    from forecaster import read_table                 # a user's export -> canonical batch table
    from forecaster import train                      # a whole training run -> run folder
    from forecaster import load_run, predict_table    # use a run folder on new batches
    from forecaster import Monitor                    # one running batch, update by update
    from forecaster import fit_detector, AnomalyDetector

Module map (imports only go downward; ``docs/architecture.md`` has the data flow)::

    serve/      using a run: load + verify a run folder, predict, Monitor, outputs, dashboards
    pipeline/   a training run: stages, typed run context, evaluation, reports
    ---------------------------------------------------------------------------------------
    sim/        mechanistic simulator          data/     read, validate, features, splits
    models/     networks + baselines           anomaly/  scorers, calibration, rules, events
    explain/    attributions (Captum), RF importances, ground truth
    schema, state, bundle, threads, trainer, cli: shared core (variables, save convention,
    run-folder manifest, CPU threads, the one Lightning Trainer factory, command-line errors)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "simulate": "forecaster.sim",
    "SimConfig": "forecaster.sim",
    "read_table": "forecaster.data.io",
    "write_table": "forecaster.data.io",
    "ColumnMap": "forecaster.data.column_map",
    "train": "forecaster.pipeline.train",
    "RunConfig": "forecaster.pipeline.config",
    "load_run": "forecaster.serve.run_folder",
    "predict_table": "forecaster.serve.predict",
    "Monitor": "forecaster.serve.monitor",
    "AnomalyDetector": "forecaster.anomaly.detector",
    "fit_detector": "forecaster.anomaly.fit",
}

__all__ = [
    "AnomalyDetector",
    "ColumnMap",
    "Monitor",
    "RunConfig",
    "SimConfig",
    "__version__",
    "fit_detector",
    "load_run",
    "predict_table",
    "read_table",
    "simulate",
    "train",
    "write_table",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'forecaster' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from forecaster.anomaly.detector import AnomalyDetector
    from forecaster.anomaly.fit import fit_detector
    from forecaster.data.column_map import ColumnMap
    from forecaster.data.io import read_table, write_table
    from forecaster.pipeline.config import RunConfig
    from forecaster.pipeline.train import train
    from forecaster.serve.monitor import Monitor
    from forecaster.serve.predict import predict_table
    from forecaster.serve.run_folder import load_run
    from forecaster.sim import SimConfig, simulate
