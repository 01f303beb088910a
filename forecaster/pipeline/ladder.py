"""The forecaster ladder: every harvest-titer rung scored on the same batches, the best
chosen per origin day, never worse out of sample than the best naive rung.

- cheap rungs (``naive_mean``, ``naive_ratio``, ``naive_slope``, ``ridge``) are
  cross-validated by batch over train + val (``k`` folds, :func:`forecaster.data.folds.
  kfold_batches`), then refitted on train + val for the test batches;
- the expensive rungs (RF, sequence model), fitted on train elsewhere, are scored on the
  validation batches;
- the choice per origin day: :func:`forecaster.pipeline.ladder_select.choose`;
- the forecast target is the process's product (the sequence model's / RF's; CHO titer).
  A product measured only at harvest leaves the rungs that extrapolate in-run values
  (``naive_ratio``, ``naive_slope``, ``ridge``) nothing to read: they are skipped with
  that reason (``ladder.skipped``); ``naive_mean`` always stands, ``ridge_summary`` (ridge
  on the static inputs, set points and signal summaries up to the origin: the classical
  batch-PLS predictor) takes their place, and the RF and sequence model forecast from the
  other signals, static inputs and set points;
- split-conformal intervals (80 / 90 / 95 %) of every rung and of the choice, calibrated on
  their out-of-sample log residuals per origin day (:mod:`forecaster.models.conformal`); the
  choice's on forecasts of each batch by a choice made without it
  (:mod:`forecaster.pipeline.ladder_calibrate`), so the selection's optimism is not in them.

Example:
    >>> ladder = run_ladder(train, val, test, sequence=seq, rf=rf)
    >>> ladder["chosen"]["rung_by_day"]["7"], ladder["chosen"]["harvest_mape_by_day"]["7"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data import targets
from forecaster.data.errors import ShortBatchError
from forecaster.data.folds import kfold_batches
from forecaster.models.conformal import LEVELS, ConformalCalibration, level_key
from forecaster.models.ladder import CHEAP_RUNGS, NAIVE_RUNGS, STATIC_RUNGS, PointRung
from forecaster.models.ladder.adapters import RFRung, SequenceRung
from forecaster.models.ladder.chosen import EXPENSIVE, ChosenForecast
from forecaster.models.ladder.protocol import upto
from forecaster.models.ladder.summary import RidgeSummary
from forecaster.pipeline.ladder_calibrate import calibration_set
from forecaster.pipeline.ladder_select import Choice, Forecasts, choose, combine

#: the calibration set of a choice (kept under its former name)
_calibration_set = calibration_set

Batches = pd.DataFrame | Sequence[pd.DataFrame]


@dataclass
class LadderResult:
    """What :func:`fit_ladder` returns.

    Attributes:
        metrics: the JSON-ready dict of :func:`run_ladder`.
        rungs: the cheap rungs refitted on train + val (``state_dict`` is plain values).
        choices: ``{day: Choice}``.
        calibrations: ``{rung or "chosen": ConformalCalibration}``.
        oos: ``{rung: {day: Forecasts}}`` out-of-sample forecasts (out-of-fold, or on the
            validation batches for RF / sequence).
    """

    metrics: dict
    rungs: dict[str, PointRung] = field(default_factory=dict)
    choices: dict[str, Choice] = field(default_factory=dict)
    calibrations: dict[str, ConformalCalibration] = field(default_factory=dict)
    oos: dict[str, dict[str, Forecasts]] = field(default_factory=dict)


def run_ladder(
    train: Batches,
    val: Batches,
    test: Batches,
    sequence=None,
    rf=None,
    origin_days: Sequence[int] = (3, 5, 7, 10),
    k: int = 5,
    seed: int = 0,
    strata: Mapping[str, object] | None = None,
    levels: Sequence[float] = LEVELS,
) -> dict:
    """Score every rung, choose per origin day, calibrate intervals.

    Args:
        train, val, test: batch tables (or lists of one frame per batch) of complete batches.
        sequence: a trained ``SequenceForecaster`` (fitted on ``train``), or None.
        rf: a fitted ``RFBaseline`` (fitted on ``train``, searched on ``val``), or None.
        origin_days: forecast origins, days since inoculation (a batch counts at an origin
            when it runs past it).
        k: folds of the cross-validation by batch over train + val.
        seed: seed of the folds (everything else is deterministic).
        strata: ``{batch_id: label}`` (fault type, recipe) the folds are stratified by.
        levels: nominal coverage levels of the conformal intervals.

    Returns:
        ``{rung: block, "chosen": block, "ladder": summary}``; a block holds, per origin day
        (keys ``"3"``, ``"5"``...): ``harvest_mape_by_day`` (test batches, fraction),
        ``harvest_mape_cv_by_day`` (``{"mean", "sd", "n_batches", "n_folds", "on"}``:
        over the folds, or on the validation batches for RF / sequence),
        ``coverage`` and ``width_pct`` (``{level: {day: value}}``, test batches, level as
        ``"80"``), ``n_batches`` (``{"test": {day: n}, "out_of_sample": {day: n}}``) and
        ``conformal_notes``; ``chosen`` adds ``rung_by_day``, ``selection_by_day``,
        ``notes``.

    Raises:
        ConfigError: train + val too small for ``k`` folds (the message names the minimum).
        ShortBatchError: no batch with a measured harvest titer in train + val.
    """
    return fit_ladder(train, val, test, sequence, rf, origin_days, k, seed, strata, levels).metrics


def fit_ladder(
    train: Batches,
    val: Batches,
    test: Batches,
    sequence=None,
    rf=None,
    origin_days: Sequence[int] = (3, 5, 7, 10),
    k: int = 5,
    seed: int = 0,
    strata: Mapping[str, object] | None = None,
    levels: Sequence[float] = LEVELS,
    product: str | None = None,
) -> LadderResult:
    """:func:`run_ladder`, also returning the fitted rungs, choices and calibrations.

    ``product``: the column forecast; default the sequence model's (or the RF's) product,
    else the CHO titer."""
    product = product or _product_of(sequence, rf)
    tr, va, te = (_groups(x, product) for x in (train, val, test))
    pool = {**tr, **va}
    if not pool:
        raise ShortBatchError(f"the ladder has no training or validation batch with a {product}")
    days = [str(int(d)) for d in origin_days]
    folds = kfold_batches(sorted(pool), k, seed, strata)
    in_run = targets.assayed_in_run(pd.concat(list(pool.values())), product)
    cheap_rungs = {n: c for n, c in CHEAP_RUNGS.items() if in_run or not c.needs_in_run_product}
    skipped = {
        n: f"{product} is measured only at harvest: no in-run values to extrapolate"
        for n in CHEAP_RUNGS
        if n not in cheap_rungs
    }
    naive_rungs = tuple(n for n in NAIVE_RUNGS if n in cheap_rungs)
    inputs = _inputs_of(sequence, rf)
    if not in_run and inputs:  # the batch-PLS style predictor from the other inputs
        cheap_rungs["ridge_summary"] = partial(RidgeSummary, inputs=inputs)
    statics = _statics_of(sequence, rf)
    if in_run and statics:  # the assay history plus the plan known in advance
        for name, cls in STATIC_RUNGS.items():
            cheap_rungs[name] = partial(cls, statics=statics)

    oos: dict[str, dict[str, Forecasts]] = {n: {d: Forecasts() for d in days} for n in cheap_rungs}
    for f, (tr_ids, va_ids) in enumerate(folds):
        fit_on = [pool[b] for b in tr_ids]
        for name, cls in cheap_rungs.items():
            rung = cls(product).fit(fit_on)
            _collect(oos[name], rung, [pool[b] for b in va_ids], va_ids, days, f, product)
    oos = {n: {d: v.sorted() for d, v in per.items()} for n, per in oos.items()}

    final = {n: cls(product).fit(list(pool.values())) for n, cls in cheap_rungs.items()}
    rungs = dict(final)
    expensive = {}
    if rf is not None:
        expensive["rf"] = RFRung(rf).fit([])
    if sequence is not None:
        expensive["sequence"] = SequenceRung(sequence)
    rungs.update(expensive)
    for name, rung in expensive.items():
        oos[name] = {d: Forecasts() for d in days}
        _collect(oos[name], rung, list(va.values()), sorted(va), days, -1, product)

    tests: dict[str, dict[str, Forecasts]] = {}
    for name, rung in rungs.items():
        tests[name] = {d: Forecasts() for d in days}
        _collect(tests[name], rung, list(te.values()), sorted(te), days, -1, product)

    metrics: dict = {}
    cals: dict[str, ConformalCalibration] = {}
    for name in rungs:
        on = "val" if name in expensive else "cv"
        metrics[name], cals[name] = _block(oos[name], tests[name], days, on, levels)

    choices: dict[str, Choice] = {}
    chosen_oos, chosen_test, notes = {}, {}, []
    for d in days:
        cheap = {n: oos[n][d] for n in cheap_rungs}
        exp_d = {n: oos[n][d] for n in expensive}
        if not any(f.n for f in cheap.values()):
            notes.append(f"day {d}: no batch of train + val runs past this origin")
            continue
        c = choose(cheap, exp_d, naive_rungs, sorted(va))
        choices[d] = c
        chosen_oos[d], pooled = calibration_set(c, cheap, naive_rungs, sorted(va), levels, exp_d)
        if pooled:
            notes.append(f"day {d}: {pooled}")
        chosen_test[d] = combine({n: tests[n][d] for n in c.weights}, c.weights)
        if c.rung in naive_rungs:
            notes.append(f"day {d}: no rung beat the naive ones out of sample; {c.rung} is chosen")
    for d in days:
        chosen_oos.setdefault(d, Forecasts())
        chosen_test.setdefault(d, Forecasts())
    block, cals["chosen"] = _block(chosen_oos, chosen_test, days, "cv", levels)
    for d, c in choices.items():
        if c.on == "val":
            block["harvest_mape_cv_by_day"][d] = _val_spread(c.oos)
    block["rung_by_day"] = {d: c.rung for d, c in choices.items()}
    block["weights_by_day"] = {d: c.weights for d, c in choices.items()}
    block["selection_by_day"] = {d: c.detail for d, c in choices.items()}
    block["notes"] = notes
    metrics["chosen"] = block
    metrics["ladder"] = {
        "k": int(k),
        "seed": int(seed),
        "n_batches": {"cv": len(pool), "val": len(va), "test": len(te)},
        "naive_rungs": list(naive_rungs),
        "rungs": list(rungs),
        "product": product,
        "skipped": skipped,
        "levels": [level_key(lv) for lv in levels],
    }
    return LadderResult(metrics, final, choices, cals, oos)


def chosen_forecast(result: LadderResult) -> ChosenForecast | None:
    """What serving the ladder's choice needs (``forecast/chosen.json``); None when no
    origin day has a choice."""
    if not result.choices:
        return None
    weights = {d: dict(c.weights) for d, c in result.choices.items()}
    used = {n for w in weights.values() for n in w}
    rungs = {n: r for n, r in result.rungs.items() if n in used and n not in EXPENSIVE}
    ends = [r.planned_end_h for r in result.rungs.values() if getattr(r, "planned_end_h", None)]
    return ChosenForecast(
        product=str(result.metrics["ladder"]["product"]),
        weights=weights,
        rungs=rungs,
        calibration=result.calibrations["chosen"],
        planned_end_h=float(ends[0]) if ends else float("nan"),
        rung_by_day={d: c.rung for d, c in result.choices.items()},
    )


def _product_of(sequence, rf) -> str:
    """The product the models forecast (CHO titer without a model)."""
    if sequence is not None:
        return str(sequence.prep.product)
    return str(getattr(rf, "product", schema.TITER))


def _inputs_of(sequence, rf) -> tuple[str, ...]:
    """The models' input variables (the summary rung reads them)."""
    if sequence is not None:
        return tuple(sequence.prep.variables)
    return tuple(getattr(rf, "variables", ()))


def _statics_of(sequence, rf) -> tuple[str, ...]:
    """The models' static inputs (known at the start: planned recipe, start conditions)."""
    if sequence is not None:
        roles = dict(sequence.prep.roles)
    else:
        roles = dict(getattr(getattr(rf, "tab", None), "roles", ()) or ())
    return tuple(v for v, r in roles.items() if r == "static")


def _groups(data: Batches, product: str = schema.TITER) -> dict[str, pd.DataFrame]:
    """``{batch_id: rows sorted by time}`` of the batches with a measured harvest product."""
    frames = (
        [g for _, g in data.groupby(schema.BATCH_ID, sort=True)]
        if isinstance(data, pd.DataFrame)
        else list(data)
    )
    out = {}
    for g in frames:
        g = g.sort_values(schema.TIME)
        final = targets.harvest_titer(g, product) if product in g else float("nan")
        if np.isfinite(final) and final > 0:
            out[str(g[schema.BATCH_ID].iloc[0])] = g
    return dict(sorted(out.items()))


def _collect(
    dest: dict[str, Forecasts],
    rung,
    batches: list[pd.DataFrame],
    ids: list[str],
    days: list[str],
    fold: int,
    product: str = schema.TITER,
) -> None:
    """Append ``rung``'s forecasts of ``batches`` at each origin day to ``dest[day]``."""
    if not batches:
        return
    y = np.asarray([targets.harvest_titer(b, product) for b in batches])
    origins = [24.0 * int(d) for d in days]
    if hasattr(rung, "predict_origins"):
        at = rung.predict_origins(batches, origins)
    else:
        at = {}
        for o in origins:
            idx, pre, ends = [], [], []
            for i, b in enumerate(batches):
                t = b[schema.TIME].to_numpy(dtype=float)
                if t[-1] > o + 1e-9:
                    idx.append(i)
                    pre.append(upto(b, o))
                    ends.append(t[-1])
            # a finished batch's harvest is its own last row
            at[o] = (np.asarray(idx, dtype=int), rung.predict(pre, np.asarray(ends)))
    for d, o in zip(days, origins):
        idx, p = at[o]
        dest[d].add(np.asarray(ids, dtype=object)[idx], y[idx], p, fold)


def _block(
    oos: dict[str, Forecasts],
    test: dict[str, Forecasts],
    days: list[str],
    on: str,
    levels: Sequence[float],
) -> tuple[dict, ConformalCalibration]:
    """Metrics block of one rung (or the choice) and its conformal calibration."""
    cal = ConformalCalibration.fit({d: oos[d].log_residuals() for d in days}, levels)
    out: dict = {
        "harvest_mape_by_day": {d: test[d].mape() for d in days},
        "harvest_mape_cv_by_day": {
            d: (oos[d].fold_spread() | {"on": "cv"}) if on == "cv" else _val_spread(oos[d])
            for d in days
        },
        "coverage": {level_key(lv): {} for lv in levels},
        "width_pct": {level_key(lv): {} for lv in levels},
        "n_batches": {
            "test": {d: test[d].n for d in days},
            "out_of_sample": {d: oos[d].n for d in days},
        },
        "conformal_notes": list(cal.notes),
    }
    for d in days:
        s = cal.score(test[d].y, test[d].p[:, 1], d)
        for key in ("coverage", "width_pct"):
            for lv, v in s[key].items():
                out[key][lv][d] = v
    return out, cal


def _val_spread(f: Forecasts) -> dict:
    """Scored once on the validation batches: no spread over folds."""
    return {"mean": f.mape(), "sd": float("nan"), "n_batches": f.n, "n_folds": 1, "on": "val"}
