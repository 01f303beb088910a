"""The trained anomaly detector of a run folder: autoencoder + rules (+ PCA monitor).

Files under ``<run_dir>/anomaly/``:

- ``model.pt``: autoencoder weights, architecture hyper-parameters, the fitted preprocessing,
  feature layout and per-variable error scale, all plain values
  (``torch.load(weights_only=True)``);
- ``thresholds.json``: calibrated thresholds with how they were chosen, rule settings;
- ``pca.npz``: PCA monitor arrays (``np.load(allow_pickle=False)``).

``detect`` and ``stream`` share one path (:class:`~forecaster.anomaly.stream.AlarmStream`):
one-shot detection is a stream fed the whole batch at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel
from forecaster.anomaly.events import AlarmEvent
from forecaster.anomaly.pca import PCAMonitor
from forecaster.anomaly.scores import SETPOINT_OF, AEScorer, FeatureSpec
from forecaster.anomaly.stream import AlarmStream
from forecaster.anomaly.threshold import Calibration
from forecaster.data.features import Preprocessor
from forecaster.models.autoencoder_net import AutoencoderNet

FORMAT_VERSION = 1
MODEL_FILE, THRESHOLD_FILE, PCA_FILE = "model.pt", "thresholds.json", "pca.npz"


class AnomalyDetectorError(FileNotFoundError):
    """A run folder lacks the anomaly files, or they do not fit together."""


class AnomalyDetector:
    """Scores and alarms for one batch at a time.

    Args:
        prep: fitted preprocessing. net, hparams: trained autoencoder and its constructor
        arguments. spec: feature layout. window: rows per window. err_scale: (H, V) per-hour
        error scale on a grid of ``dt_h`` hours.
        ae_cal: autoencoder threshold calibration. rules: rule settings.
        agitation_max: highest agitation of the good training batches (rpm), for reasons.
        pca, pca_cal: optional PCA monitor and its threshold calibration.
        consistency: fitted controller-consistency checks, run with the rules.
        top_k: the autoencoder score is the mean of the k largest variable errors (0 = all).
    """

    def __init__(
        self,
        prep: Preprocessor,
        net: AutoencoderNet,
        hparams: dict,
        spec: FeatureSpec,
        window: int,
        err_scale: np.ndarray,
        dt_h: float,
        ae_cal: Calibration,
        rules: RulesConfig,
        agitation_max: float | None = None,
        pca: PCAMonitor | None = None,
        pca_cal: Calibration | None = None,
        consistency: ConsistencyModel | None = None,
        top_k: int = 0,
    ) -> None:
        self.prep, self.hparams, self.spec = prep, dict(hparams), spec
        self.scorer = AEScorer(
            net, spec, window, err_scale, dt_h, top_k, ae_cal.setpoint_transient_h
        )
        self.ae_cal, self.rules, self.agitation_max = ae_cal, rules, agitation_max
        self.pca, self.pca_cal = pca, pca_cal
        self.consistency = consistency

    @property
    def threshold(self) -> float:
        """Raw autoencoder threshold (score units: mean normalised squared error)."""
        return self.ae_cal.threshold

    # ------------------------------------------------------------------ public API
    def score(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Per-row autoencoder score of one batch.

        Returns:
            DataFrame with ``time_h``, ``ae_score``, ``ae_threshold`` and one
            ``contrib_<variable>`` column per scored variable (shares summing to 1).
        """
        rows = self._check(rows)
        t = rows[schema.TIME].to_numpy(float)
        r = self.scorer.score(self.spec.features(self.prep, rows), t)
        out = pd.DataFrame({schema.TIME: t, "ae_score": r.score})
        out["ae_threshold"] = self.threshold
        for j, v in enumerate(self.spec.variables):
            out[f"contrib_{v}"] = r.contrib[:, j]
        return out

    def detect(
        self, rows: pd.DataFrame, detectors: tuple[str, ...] = ("autoencoder", "rules")
    ) -> list[AlarmEvent]:
        """Alarm events of one batch (``detectors`` may add ``"pca"``), in order of raising."""
        rows = self._check(rows)
        bid = str(rows[schema.BATCH_ID].iloc[0]) if schema.BATCH_ID in rows else "batch"
        s = self.stream(bid, detectors=detectors)
        s.update(rows)
        return s.events

    def stream(
        self,
        batch_id: str,
        detectors: tuple[str, ...] = ("autoencoder", "rules"),
        keep_history: bool = False,
    ) -> AlarmStream:
        """Incremental detector for a running batch (``.update(new_rows)`` -> new alarms)."""
        if "pca" in detectors and (self.pca is None or self.pca_cal is None):
            raise ValueError("this detector has no PCA monitor (anomaly.pca.enabled was false)")
        return AlarmStream(self, str(batch_id), tuple(detectors), keep_history=keep_history)

    def _check(self, rows: pd.DataFrame) -> pd.DataFrame:
        need = [schema.TIME, *self.prep.variables, *(SETPOINT_OF[v] for v in self.spec.dev_vars)]
        missing = [c for c in dict.fromkeys(need) if c not in rows.columns]
        if missing:
            raise KeyError(f"rows lack columns {missing} needed by the anomaly detector")
        if schema.BATCH_ID in rows:
            ids = rows[schema.BATCH_ID].to_numpy()
            if len(ids) and (ids != ids[0]).any():
                raise ValueError("detect/score take the rows of one batch; group by batch_id first")
        if np.any(np.diff(rows[schema.TIME].to_numpy(float)) < 0):
            rows = rows.sort_values(schema.TIME, kind="stable")
        return rows

    # ---------------------------------------------------------------- persistence
    def save(self, folder: Path) -> dict[str, Path]:
        """Write model.pt, thresholds.json and pca.npz into ``folder`` (the run's anomaly/)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "format_version": FORMAT_VERSION,
            "net": {k: v.detach().cpu() for k, v in self.scorer.net.state_dict().items()},
            "hparams": self.hparams,
            "prep": self.prep.state_dict(),
            "spec": self.spec.to_dict(),
            "window": int(self.scorer.window),
            "err_scale": self.scorer.err_scale.tolist(),
            "dt_h": float(self.scorer.dt_h),
            "score_top_k": int(self.scorer.top_k),
        }
        paths = {"model": folder / MODEL_FILE, "thresholds": folder / THRESHOLD_FILE}
        torch.save(state, paths["model"])
        thr = {
            "autoencoder": self.ae_cal.to_dict(),
            "pca": self.pca_cal.to_dict() if self.pca_cal else None,
            "rules": asdict(self.rules),
            "agitation_max_rpm": self.agitation_max,
            "score_variables": list(self.spec.variables),
            "consistency": self.consistency.to_dict() if self.consistency else None,
        }
        paths["thresholds"].write_text(json.dumps(thr, indent=2))
        if self.pca is not None:
            paths["pca"] = folder / PCA_FILE
            np.savez(paths["pca"], **self.pca.arrays())
        return paths

    @classmethod
    def load(cls, run_dir: str | Path) -> AnomalyDetector:
        """Load from a run folder (or its ``anomaly/`` subfolder)."""
        run_dir = Path(run_dir)
        folder = run_dir if (run_dir / MODEL_FILE).exists() else run_dir / "anomaly"
        for name in (MODEL_FILE, THRESHOLD_FILE):
            if not (folder / name).exists():
                raise AnomalyDetectorError(
                    f"{folder / name} not found: train with anomaly.enabled=true to create it"
                )
        state = torch.load(folder / MODEL_FILE, weights_only=True, map_location="cpu")
        if state.get("format_version") != FORMAT_VERSION:
            raise AnomalyDetectorError(
                f"{folder / MODEL_FILE}: format {state.get('format_version')}, expected {FORMAT_VERSION}"
            )
        thr = json.loads((folder / THRESHOLD_FILE).read_text())
        net = AutoencoderNet(**state["hparams"])
        net.load_state_dict(state["net"])
        pca = pca_cal = None
        if thr.get("pca") and (folder / PCA_FILE).exists():
            with np.load(folder / PCA_FILE, allow_pickle=False) as z:
                pca = PCAMonitor.from_arrays({k: z[k] for k in z.files})
            pca_cal = Calibration(**thr["pca"])
        return cls(
            prep=Preprocessor.from_state_dict(state["prep"]),
            net=net,
            hparams=state["hparams"],
            spec=FeatureSpec(**state["spec"]),
            window=state["window"],
            err_scale=np.asarray(state["err_scale"]),
            dt_h=float(state["dt_h"]),
            ae_cal=Calibration(**thr["autoencoder"]),
            rules=RulesConfig(**thr["rules"]),
            agitation_max=thr.get("agitation_max_rpm"),
            pca=pca,
            pca_cal=pca_cal,
            consistency=ConsistencyModel(**thr["consistency"]) if thr.get("consistency") else None,
            top_k=int(state.get("score_top_k", 0)),
        )
