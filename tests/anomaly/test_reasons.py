"""Reason sentences of score alarms: direction, reference and the good-news case."""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.reasons import describe_variable, reason_sentence


def _raw(**cols) -> dict[str, np.ndarray]:
    n = len(next(iter(cols.values())))
    return {
        "time_h": np.arange(n, dtype=float),
        **{k: np.asarray(v, float) for k, v in cols.items()},
    }


def test_titer_above_expected_is_called_good_news():
    raw = _raw(titer_mg_L=[np.nan, 5417.0, np.nan])
    text = describe_variable("titer_mg_L", raw, 2, 2.0, expected=4418.0)
    assert "rose to 5417 mg/L in the assay at 1 h where about 4418 mg/L was expected" in text
    assert "better than expected" in text


def test_titer_below_expected_is_not():
    raw = _raw(titer_mg_L=[3000.0])
    text = describe_variable("titer_mg_L", raw, 0, 0.0, expected=4418.0)
    assert "fell to 3000" in text and "better" not in text


def test_do_against_setpoint_at_maximum_agitation():
    raw = _raw(do_pct=[40.0, 12.0], do_setpoint_pct=[40.0, 40.0], agitation_rpm=[200.0, 250.0])
    text = reason_sentence("autoencoder", [("do_pct", 0.71), ("agitation_rpm", 0.18)], raw, 1, 131.0,
                           agitation_max=250.0)  # fmt: skip
    assert text.startswith("DO fell to 12 % at 131 h against a 40 % setpoint")
    assert "while agitation was at its maximum" in text and "71% of the error" in text
    assert "better" not in text
