"""Reading anomaly folders written in format 1 (before the scorer protocol).

Format 1 kept the autoencoder in ``model.pt`` (weights, architecture, preprocessing, feature
layout, error scale), the calibrations and rule settings in ``thresholds.json`` and the PCA
monitor in ``pca.npz``. :func:`v1_to_v2` turns them into the format-2 state of
:meth:`AnomalyDetector.state_dict <forecaster.anomaly.detector.AnomalyDetector.state_dict>`,
the one migration step :func:`forecaster.state.load_state` runs for version 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forecaster.anomaly.threshold import Calibration
from forecaster.data.errors import RunFolderError
from forecaster.state import Migration

THRESHOLD_FILE, PCA_FILE = "thresholds.json", "pca.npz"


def v1_to_v2(folder: str | Path) -> Migration:
    """The migration of the format-1 ``model.pt`` in ``folder`` (reads its two siblings)."""
    folder = Path(folder)

    def migrate(doc: dict[str, Any]) -> dict[str, Any]:
        thr_path = folder / THRESHOLD_FILE
        if not thr_path.exists():
            raise RunFolderError(f"{thr_path} not found: a format-1 anomaly folder needs it")
        thr = json.loads(thr_path.read_text(encoding="utf-8"))
        ae_cal = Calibration(**thr["autoencoder"])
        ae = {
            "net": doc["net"],
            "hparams": doc["hparams"],
            "window": int(doc["window"]),
            "err_scale": torch.from_numpy(np.asarray(doc["err_scale"], dtype=np.float64)),
            "dt_h": float(doc["dt_h"]),
            "top_k": int(doc.get("score_top_k", 0)),
            "setpoint_transient_h": ae_cal.setpoint_transient_h,
        }
        scorers = [{"name": "autoencoder", "state": ae, "calibration": ae_cal.to_dict()}]
        if thr.get("pca") and (folder / PCA_FILE).exists():
            with np.load(folder / PCA_FILE, allow_pickle=False) as z:
                arrays = {k: torch.from_numpy(np.array(z[k])) for k in z.files}
            pca_cal = Calibration(**thr["pca"])
            pca = {"monitor": arrays, "setpoint_transient_h": pca_cal.setpoint_transient_h}
            scorers.append({"name": "pca", "state": pca, "calibration": pca_cal.to_dict()})
        return {
            "prep": doc["prep"],
            "spec": doc["spec"],
            "scorers": scorers,
            "rules": thr["rules"],
            "consistency": thr.get("consistency"),
            "agitation_max_rpm": thr.get("agitation_max_rpm"),
        }

    return migrate
