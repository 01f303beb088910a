"""Threshold calibration of an anomaly score on fault-free batches, stored as plain values.

The raw threshold is kept in the score's own units (no hidden normalisation), together with
how it was chosen and on how many batches, so an engineer can read what it means.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from forecaster.anomaly.config import MERGE_GAP_H, SETPOINT_TRANSIENT_H, ThresholdConfig
from forecaster.anomaly.events import find_spans


@dataclass
class Calibration:
    """A calibrated threshold and how it was obtained.

    Attributes:
        threshold: raw threshold in score units (alarm when score > threshold).
        method: ``event_rate`` or ``quantile``.
        merge_gap_h, setpoint_transient_h: event merging and set-point transient used
            (see :class:`~forecaster.anomaly.config.ThresholdConfig`).
        n_batches, n_steps, batch_days: size of the calibration set.
        allowed_events: alarm events the target rate allows on this set (event_rate).
        calibration_events: alarm events at ``threshold`` on the calibration set.
        calibration_rate_per_100_batch_days: the same as a rate.
        excluded_batches: calibration batches dropped because they carry fault labels.
        note: plain-language caveats (few batches, excluded faults, contamination).
        contamination_warning: set when the calibration scores look contaminated by an
            unlabelled fault (:func:`check_contamination`), else empty.
        suspect_batches: calibration batches whose scores are outliers against the others.
        mode: ``holdout`` (scores of the validation batches) or ``out_of_fold`` (each
            training batch scored by a scorer fitted without it; ``folds`` folds).
        scored_by_model_without: out of fold, ``{batch: batches the scorer that scored it
            was not fitted on}`` (its own fold, itself included).
        heldout_batches, heldout_batch_days, heldout_events,
        heldout_rate_per_100_batch_days: out of fold, the final scorer's false alarms at
            this threshold on the validation batches, which set nothing (measured rate
            beside ``target_false_alarms_per_100_batch_days``).
    """

    threshold: float
    method: str
    target_false_alarms_per_100_batch_days: float
    quantile: float
    margin: float
    persistence_steps: int
    clear_steps: int
    n_batches: int
    n_steps: int
    batch_days: float
    allowed_events: int
    calibration_events: int
    calibration_rate_per_100_batch_days: float
    excluded_batches: list[str] = field(default_factory=list)
    note: str = ""
    merge_gap_h: float = MERGE_GAP_H
    setpoint_transient_h: float = SETPOINT_TRANSIENT_H
    contamination_warning: str = ""
    suspect_batches: list[str] = field(default_factory=list)
    mode: str = "holdout"
    folds: int = 0
    scored_by_model_without: dict[str, list[str]] = field(default_factory=dict)
    heldout_batches: int = 0
    heldout_batch_days: float = 0.0
    heldout_events: int = 0
    heldout_rate_per_100_batch_days: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def count_events(
    series: list[tuple[np.ndarray, np.ndarray]],
    thr: float,
    min_steps: int,
    clear_steps: int,
    merge_gap_h: float = 0.0,
) -> int:
    """Alarm events over batches ``[(t: (T,), score: (T,)), ...]`` at threshold ``thr``."""
    n = 0
    for t, s in series:
        flag = s > thr
        if flag.any():
            n += len(find_spans(t, flag, s, min_steps, 0.0, clear_steps, merge_gap_h))
    return n


def persistent_values(score: np.ndarray, k: int) -> np.ndarray:
    """(T,) minimum of the last ``k`` scores at each row: an alarm is raised at row t iff
    this exceeds the threshold (NaN for the first k-1 rows)."""
    s = np.asarray(score, dtype=float)
    if k <= 1 or len(s) < k:
        return s.copy() if k <= 1 else np.full(len(s), np.nan)
    win = np.lib.stride_tricks.sliding_window_view(s, k)
    return np.concatenate([np.full(k - 1, np.nan), win.min(axis=1)])


def calibrate(
    series: list[tuple[np.ndarray, np.ndarray]],
    cfg: ThresholdConfig,
    excluded_batches: list[str] | None = None,
) -> Calibration:
    """Choose the threshold of a score on fault-free calibration batches.

    Args:
        series: one ``(t_h: (T,), score: (T,))`` pair per calibration batch (fault-free).
        cfg: method, target rate, persistence.
        excluded_batches: ids of calibration batches left out because they had labelled faults.

    Returns:
        The :class:`Calibration`; ``event_rate`` gives the lowest candidate threshold whose
        alarm events on these batches stay within the target rate (at most
        ``floor(target x batch_days / 100)`` events).
    """
    if not series:
        raise ValueError("threshold calibration needs at least one fault-free batch, got none")
    excluded = list(excluded_batches or [])
    k, c, gap = cfg.persistence_steps, cfg.clear_steps, cfg.merge_gap_h
    n_steps = int(sum(len(s) for _, s in series))
    days = float(sum(duration_days(t) for t, _ in series))
    allowed = int(math.floor(cfg.target_false_alarms_per_100_batch_days * days / 100.0 + 1e-9))
    finite = [(np.asarray(t, float), np.nan_to_num(np.asarray(s, float))) for t, s in series]
    if cfg.method == "quantile":
        raw = float(np.quantile(np.concatenate([s for _, s in finite]), cfg.quantile))
    else:
        cand = np.concatenate([persistent_values(s, k) for _, s in finite])
        cand = np.unique(cand[np.isfinite(cand)])[::-1]  # descending
        if cand.size == 0:
            raise ValueError(f"calibration batches are shorter than persistence ({k} steps)")
        # Events grow as the threshold falls: bisect for the lowest candidate within budget.
        lo, hi = 0, cand.size - 1  # count(cand[0]) == 0 <= allowed
        if count_events(finite, float(cand[hi]), k, c, gap) <= allowed:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if count_events(finite, float(cand[mid]), k, c, gap) <= allowed:
                lo = mid
            else:
                hi = mid
        raw = float(cand[lo])
    thr = raw * cfg.margin
    n_ev = count_events(finite, thr, k, c, gap)
    notes = []
    if len(series) < 10:
        notes.append(f"only {len(series)} calibration batches: the threshold is a rough estimate")
    if allowed == 0 and cfg.method == "event_rate":
        notes.append(
            f"{days:.1f} batch-days allow no alarm at the target rate, so the threshold sits "
            "just above the highest persistent calibration score"
        )
    if excluded:
        msg = f"{len(excluded)} validation batches with labelled faults were excluded from calibration"
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    return Calibration(
        threshold=float(thr),
        method=cfg.method,
        target_false_alarms_per_100_batch_days=cfg.target_false_alarms_per_100_batch_days,
        quantile=cfg.quantile,
        margin=cfg.margin,
        persistence_steps=k,
        clear_steps=c,
        n_batches=len(series),
        n_steps=n_steps,
        batch_days=round(days, 3),
        allowed_events=allowed,
        calibration_events=n_ev,
        calibration_rate_per_100_batch_days=round(100.0 * n_ev / max(days, 1e-9), 4),
        excluded_batches=excluded,
        note="; ".join(notes),
        merge_gap_h=gap,
        setpoint_transient_h=cfg.setpoint_transient_h,
    )


def duration_days(t: np.ndarray) -> float:
    """Days covered by rows at hours ``t`` (n rows of step dt count n x dt)."""
    t = np.asarray(t, dtype=float)
    if len(t) < 2:
        return len(t) / 24.0
    dt = float(np.median(np.diff(t)))
    return (t[-1] - t[0] + dt) / 24.0


#: A threshold more than this factor above the high quantile of the training batches'
#: scores, or a calibration batch whose highest score is that far above both that quantile
#: and the other calibration batches' highest scores, looks contaminated.
CONTAMINATION_FACTOR = 3.0
#: The "high quantile" of the training scores.
TRAIN_QUANTILE = 0.999


def check_contamination(
    cal: Calibration,
    train_scores: list[np.ndarray],
    val_scores: dict[str, np.ndarray],
    name: str,
    leave_one_out: bool = False,
) -> Calibration:
    """Warn when the calibration batches cannot support the threshold (unlabelled faults).

    Compares the threshold with the ``TRAIN_QUANTILE`` quantile ``q`` of the training
    batches' per-row scores, and each calibration batch's highest score with ``q`` and with
    the median of the calibration batches' highest scores. A threshold above
    ``CONTAMINATION_FACTOR x q``, or a batch above that factor times both, is reported: a
    ``UserWarning`` with one plain line, ``contamination_warning``, ``suspect_batches`` and
    the calibration's ``note``.

    Args:
        cal: the calibration to check (updated in place and returned).
        train_scores: per-row scores of each fault-free training batch.
        val_scores: ``{batch_id: per-row scores}`` of the calibration batches.
        name: the scorer, for the message.
        leave_one_out: the calibration batches are the training batches (out-of-fold
            calibration): each batch is compared with the quantile of the other batches'
            scores, so a faulty batch cannot raise its own reference.
    """
    tr = np.concatenate([np.asarray(s, float) for s in train_scores]) if train_scores else []
    tr = np.asarray(tr)[np.isfinite(tr)]
    if not tr.size or not val_scores:
        return cal
    peaks = {b: float(np.nanmax(s)) if np.isfinite(s).any() else 0.0 for b, s in val_scores.items()}
    med = float(np.median(list(peaks.values())))
    if leave_one_out and len(val_scores) > 2:  # each batch against the others' scores only
        ref = {b: _quantile_without(val_scores, b) for b in val_scores}
        q = float(np.median(list(ref.values())))
    else:
        q = float(np.quantile(tr, TRAIN_QUANTILE))
        ref = {b: q for b in val_scores}
    lim = CONTAMINATION_FACTOR * max(q, 1e-12)
    suspects = sorted(
        b
        for b, p in peaks.items()
        if p > CONTAMINATION_FACTOR * max(ref[b], 1e-12) and p > CONTAMINATION_FACTOR * med
    )
    msgs = []
    if cal.threshold > lim:
        msgs.append(
            f"{name} threshold {cal.threshold:.4g} is {cal.threshold / q:.0f}x the "
            f"{TRAIN_QUANTILE:g} quantile of the training batches' scores ({q:.4g})"
        )
    if suspects:
        shown = ", ".join(f"{b} ({peaks[b]:.3g})" for b in suspects[:5])
        more = f" and {len(suspects) - 5} more" if len(suspects) > 5 else ""
        msgs.append(f"calibration batches score far above the others: {shown}{more}")
    if not msgs:
        return cal
    if cal.threshold <= lim:  # only outlying batches: a fault, or normal but unusual operation
        tail = (
            "such a batch holds an unlabelled fault (which raises the threshold, so it may "
            "never alarm) or runs unlike the training batches; look at it, label or remove a "
            "faulty one and retrain"
        )
    else:
        cause = (
            "the calibration batches probably contain unlabelled faults"
            if suspects
            else "unlabelled faults among the calibration batches, or too few batches to calibrate on"
        )
        tail = f"{cause}, so this threshold may never alarm (label or remove those batches and retrain)"
    text = "; ".join(msgs) + f": {tail}"
    warnings.warn(text, UserWarning, stacklevel=3)
    cal.contamination_warning, cal.suspect_batches = text, suspects
    cal.note = "; ".join(n for n in (cal.note, text) if n)
    return cal


def _quantile_without(scores: dict[str, np.ndarray], left_out: str) -> float:
    """``TRAIN_QUANTILE`` quantile of the finite per-row scores of every batch but one."""
    rest = [np.asarray(v, float) for b, v in scores.items() if b != left_out]
    x = np.concatenate(rest) if rest else np.zeros(0)
    x = x[np.isfinite(x)]
    return float(np.quantile(x, TRAIN_QUANTILE)) if x.size else 0.0
