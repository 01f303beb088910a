"""The expensive rungs behind the :class:`HarvestRung` interface: RF baseline, sequence model.

Both wrap a model fitted elsewhere (on the training split, with its own validation
search), so ``fit`` only checks that the model is fitted. ``state_dict`` is the wrapped
model's own (it is saved with the model). Each also offers ``predict_origins``: the
forecasts of whole batches at several origins, which for the sequence model is one network
pass per batch (``SequenceForecaster.step_outputs``: the output at step t uses rows <= t,
so it equals the forecast from the prefix).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.decode import QuantilePick
from forecaster.models.ladder.protocol import MIN_TITER

#: quantiles of the per-tree RF forecasts reported as p10 and p90
_RF_BAND = (10.0, 90.0)


def _origin_index(time_h: np.ndarray, origin_h: float) -> int | None:
    """Row of the forecast made at ``origin_h``: the last row at or before it, for a batch
    that runs past it; None otherwise."""
    idx = np.flatnonzero(time_h <= origin_h + 1e-9)
    return int(idx[-1]) if idx.size and time_h[-1] > origin_h + 1e-9 else None


class RFRung:
    """A fitted :class:`forecaster.models.baseline.RFBaseline` as a rung.

    p50 is the forest's mean forecast; p10 / p90 are the 10 % and 90 % quantiles of its
    trees' forecasts (a spread of the ensemble, not a calibrated interval).
    """

    name = "rf"

    def __init__(self, rf: Any) -> None:
        self.rf = rf

    def fit(self, batches: list[pd.DataFrame]) -> RFRung:
        """No refit: the baseline was fitted on the training split (checked here)."""
        if "titer" not in getattr(self.rf, "models", {}):
            raise RuntimeError("RFRung: the RF baseline has no fitted titer forest")
        return self

    def predict(
        self, prefixes: Sequence[pd.DataFrame], harvest_h: float | Sequence[float] | None = None
    ) -> np.ndarray:
        """``(n, 3)`` p10 / p50 / p90 (mg/L); ``harvest_h`` is ignored (the forest learned
        the harvest of its training batches)."""
        if len(prefixes) == 0:
            return np.zeros((0, 3))
        X = self.rf.features(prefixes).astype(np.float32)
        trees = np.stack(
            [t.predict(X, check_input=False) for t in self.rf.models["titer"].estimators_]
        )
        p50 = np.maximum(trees.mean(0), MIN_TITER)
        lo, hi = np.percentile(trees, _RF_BAND, axis=0)
        return np.stack([np.minimum(lo, p50), p50, np.maximum(hi, p50)], 1)

    def predict_origins(
        self, batches: Sequence[pd.DataFrame], origins_h: Sequence[float]
    ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """``{origin_h: (batch index (m,), forecasts (m, 3))}`` for the batches running past
        each origin."""
        out = {}
        for o in origins_h:
            idx, pre = [], []
            for i, b in enumerate(batches):
                t = b[schema.TIME].to_numpy(dtype=float)
                if _origin_index(t, o) is not None:
                    idx.append(i)
                    pre.append(b.iloc[: int(np.searchsorted(t, o + 1e-9, side="right"))])
            out[o] = (np.asarray(idx, dtype=int), self.predict(pre))
        return out

    def state_dict(self) -> dict[str, Any]:
        """The wrapped baseline's state (``RFBaseline.state_dict``)."""
        return self.rf.state_dict()


class SequenceRung:
    """A trained :class:`forecaster.models.sequence.SequenceForecaster` as a rung.

    p10 / p50 / p90 are the network's lowest, median and highest quantile heads.
    """

    name = "sequence"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.pick = QuantilePick.of(model.net.quantiles)

    def fit(self, batches: list[pd.DataFrame]) -> SequenceRung:
        """No refit: the network was trained on the training split."""
        return self

    def predict(
        self, prefixes: Sequence[pd.DataFrame], harvest_h: float | Sequence[float] | None = None
    ) -> np.ndarray:
        """``(n, 3)`` p10 / p50 / p90 (mg/L) at each prefix's last row; ``harvest_h`` is
        ignored (the network's harvest is the planned run end it was trained with)."""
        if len(prefixes) == 0:
            return np.zeros((0, 3))
        outs = self.model.step_outputs(prefixes)
        return np.stack([self._take(o["harvest"][-1]) for o in outs])

    def predict_origins(
        self, batches: Sequence[pd.DataFrame], origins_h: Sequence[float]
    ) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """Like :meth:`RFRung.predict_origins`, from one network pass per batch."""
        outs = self.model.step_outputs(batches)
        res = {}
        for o in origins_h:
            idx, preds = [], []
            for i, s in enumerate(outs):
                r = _origin_index(np.asarray(s["time_h"], dtype=float), o)
                if r is not None:
                    idx.append(i)
                    preds.append(self._take(s["harvest"][r]))
            res[o] = (np.asarray(idx, dtype=int), np.asarray(preds).reshape(-1, 3))
        return res

    def _take(self, harvest: np.ndarray) -> np.ndarray:
        q = np.maximum(self.pick.take(np.asarray(harvest, dtype=float)), MIN_TITER)
        return np.sort(q)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped model's state (``SequenceForecaster.state_dict``: holds tensors)."""
        return self.model.state_dict()
