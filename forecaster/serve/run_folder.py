"""Load a verified run folder for prediction: models, process, column map and baseline.

The process definition is ``process.json`` (older folders: the CHO preset); the column map
is ``column_map.json`` when the folder has one, else the training ``config.yaml``'s
``data.column_map`` (what folders hold today).

``load_run`` is what ``forecaster.predict``, the ``Monitor`` and the benchmarks call; every
problem becomes a one-line ``RunFolderError`` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from forecaster.bundle import verify
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import DataError, RunFolderError
from forecaster.data.process import Process, default_process
from forecaster.models.sequence import SequenceForecaster


@dataclass
class LoadedRun:
    """Everything prediction needs from a verified run folder.

    Attributes:
        run_dir: the run folder.
        manifest: its ``manifest.json``.
        config: the resolved run config (plain dict).
        column_map: the user's column names and units (identity for simulated data).
        model: the sequence forecaster.
        detector: the anomaly detector, or None if the run was trained without one.
        baseline: (F,) or (hours, F) attribution baseline saved by the explain stage, or None.
        process: the run's process definition (``process.json``; older folders: CHO).
        feed_recipe: the feed's schedule when training found the feed follows a recipe
            (``forecast/feed_recipe.json``): the recommendation is its next value.
        cadence: the row and assay spacing the run was trained on (``cadence.json``).
        choice: the harvest forecast training chose per origin day (``forecast/chosen.json``,
            :mod:`forecaster.serve.chosen`); None: the network's own is served.
    """

    run_dir: Path
    manifest: dict
    config: dict
    column_map: ColumnMap
    model: SequenceForecaster
    detector: object | None = None
    baseline: np.ndarray | None = None
    process: Process = field(default_factory=default_process)
    feed_recipe: object | None = None  # FeedRecipe when the feed follows a schedule
    cadence: object | None = None  # Cadence the run was trained on (cadence.json)
    choice: object | None = None  # ServedChoice: the forecast training chose (chosen.json)

    @property
    def required(self) -> list[str]:
        """Canonical variables the models read (the forecaster's, then the detector's)."""
        det = list(self.detector.prep.variables) if self.detector is not None else []
        return list(dict.fromkeys([*self.model.variables, *det]))


def load_run(run_dir: str | os.PathLike) -> LoadedRun:
    """Verify and load a run folder.

    Raises:
        RunFolderError: missing, incomplete, incompatible or unreadable run folder.
        ChecksumError: a file differs from the hash recorded at training time.
    """
    run_dir = Path(run_dir)
    manifest = verify(run_dir)
    cfg_path = run_dir / "config.yaml"
    try:
        config = yaml.safe_load(cfg_path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RunFolderError(
            f"config.yaml is not valid YAML ({type(e).__name__})", file=str(cfg_path)
        ) from None
    if not isinstance(config, dict):
        raise RunFolderError("config.yaml does not hold a run config", file=str(cfg_path))
    process = _load_process(run_dir)
    cmap_path = run_dir / "column_map.json"
    try:
        if cmap_path.exists():
            column_map = ColumnMap.from_dict(json.loads(cmap_path.read_text()), process)
        else:  # older folders: the map of the training config
            cmap_path = cfg_path
            column_map = ColumnMap.from_dict((config.get("data") or {}).get("column_map"), process)
    except (DataError, ValueError) as e:
        where = "data.column_map in config.yaml" if cmap_path == cfg_path else "column_map.json"
        raise RunFolderError(f"{where}: {e}", file=str(cmap_path)) from None
    model_path = run_dir / "forecast" / "model.pt"
    try:  # an old format version is migrated or refused in one line by the loader itself
        model = SequenceForecaster.load(model_path)
    except (ValueError, KeyError, TypeError, RuntimeError, EOFError, OSError) as e:
        raise RunFolderError(
            f"cannot load the forecaster ({' '.join(str(e).split())[:200]}); retrain with this version",
            file=str(model_path),
        ) from None
    model.net.eval()
    detector = None
    if (run_dir / "anomaly").is_dir():
        from forecaster.anomaly.detector import AnomalyDetector

        try:
            detector = AnomalyDetector.load(run_dir)
        except (FileNotFoundError, ValueError, KeyError, RuntimeError, TypeError) as e:
            raise RunFolderError(
                f"cannot load the anomaly detector ({' '.join(str(e).split())[:200]})",
                file=str(run_dir / "anomaly"),
            ) from None
    baseline = _load_baseline(run_dir, model)
    run = LoadedRun(run_dir, manifest, config, column_map, model, detector, baseline, process)
    run.feed_recipe = _load_feed_recipe(run_dir)
    run.cadence = _load_cadence(run_dir)
    from forecaster.serve.chosen import load_choice

    run.choice = load_choice(run_dir, model)
    return run


def _load_cadence(run_dir: Path):
    """``cadence.json``: the row and assay spacing the run was trained on (None: older run)."""
    from forecaster.data.time_grid import Cadence

    path = run_dir / "cadence.json"
    if not path.exists():
        return None
    try:
        return Cadence.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{path}: {err}") from None


def _load_feed_recipe(run_dir: Path):
    """``forecast/feed_recipe.json`` when the run found that its feed follows a recipe (the
    recommendation is then the recipe's next value); None otherwise or for older folders."""
    from forecaster.models.feed_recipe import FeedRecipe

    path = run_dir / "forecast" / "feed_recipe.json"
    if not path.exists():
        return None
    try:
        recipe = FeedRecipe.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise RunFolderError(f"{path}: {err}") from None
    return recipe if recipe.is_recipe else None


def _load_process(run_dir: Path) -> Process:
    """``process.json`` of the run folder; the CHO preset for folders older than it."""
    path = run_dir / "process.json"
    if not path.exists():
        return default_process()
    try:
        return Process.from_dict(json.loads(path.read_text()))
    except (ValueError, DataError) as e:
        raise RunFolderError(
            f"process.json is not a process definition ({e})", file=str(path)
        ) from None


def _load_baseline(run_dir: Path, model: SequenceForecaster) -> np.ndarray | None:
    path = run_dir / "explain" / "baseline.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        values = np.asarray(data["values"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as e:
        raise RunFolderError(f"explain/baseline.json is unreadable ({e})", file=str(path)) from None
    if values.ndim not in (1, 2) or values.shape[-1] != model.prep.n_features or not values.size:
        raise RunFolderError(
            f"explain/baseline.json has shape {values.shape}; the forecaster has "
            f"{model.prep.n_features} features (expected (features,) or (hours, features))",
            file=str(path),
        )
    return values
