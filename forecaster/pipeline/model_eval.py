"""Stage 2: fit the RF baseline on the same split, evaluate both models on test batches."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.models.baseline import RFBaseline
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.evaluate import (
    ORIGIN_DAYS,
    evaluate_rf,
    evaluate_sequence,
    noise_floor_mape,
    origin_days_within,
    prefixes_at,
)

#: what the feed metrics say for a process without a feed
NO_FEED = "no feed to recommend (the process has no feed)"


def _groups(table: pd.DataFrame) -> list[pd.DataFrame]:
    return [g.sort_values(schema.TIME) for _, g in table.groupby(schema.BATCH_ID, sort=True)]


def run_forecast_evaluation(
    ctx: RunContext,
    batch_info: pd.DataFrame | None,
    on_models_saved: Callable[[], None] | None = None,
) -> dict:
    """Fit the RF (same batches, same inputs as the sequence model) and score both.

    ``on_models_saved`` is called once the RandomForest is saved in the run folder (at
    once when it is disabled), before the ladder: the explain stage may start from there.

    Returns ``{"feed": ..., "titer": ..., "faulty_batches": ..., "rf_search": ...}``.
    Normal test batches give the headline metrics; faulty test batches are scored
    separately under ``faulty_batches``.
    """
    seq = ctx.trained_forecaster()
    prep = seq.prep
    fault_filter = None if ctx.cfg.data.train_on_faulty else False
    out: dict = {"feed": {}, "titer": {}, "faulty_batches": {"feed": {}, "titer": {}}}
    days, dropped = origin_days_within(_groups(ctx.table), ORIGIN_DAYS)
    if dropped:
        out["titer"]["origin_days_dropped"] = {
            "days": list(dropped),
            "reason": "the median batch ends before these origins",
        }
    rf = None
    if ctx.cfg.rf.enabled:
        t0 = time.perf_counter()
        train, val = (
            ctx.batches("train", faulty=fault_filter),
            ctx.batches("val", faulty=fault_filter),
        )
        rf = RFBaseline(ctx.cfg.rf, seq.variables, seed=ctx.seed, roles=prep.roles,
                        product=prep.product, feed=prep.feed).fit(train, val)  # fmt: skip
        ctx.rf_fit_batches = {
            k: sorted(map(str, d[schema.BATCH_ID].unique()))
            for k, d in (("train", train), ("val", val))
        }
        rf.save(ctx.run_dir / "rf")
        ctx.rf = rf
        out["rf_search"] = {
            "fit_s": time.perf_counter() - t0,
            "results": getattr(rf, "search_results", None),
        }
    if on_models_saved is not None:
        on_models_saved()

    for label, faulty, dest in (("normal", False, out), ("faulty", True, out["faulty_batches"])):
        batches = _groups(ctx.batches("test", faulty=faulty))
        if not batches:
            dest["note"] = f"no {label} test batches"
            continue
        models = {"sequence": evaluate_sequence(seq, batches, days)}
        if rf is not None:
            models["rf"] = evaluate_rf(rf, batches, days)
        for name, m in models.items():
            dest["titer"][name] = m["titer"]
            if "feed" in m:
                dest["feed"][name] = m["feed"]
        dest["n_batches"] = len(batches)
    if prep.feed is None:
        for dest in (out, out["faulty_batches"]):
            dest["feed"] = {"note": NO_FEED}
    else:
        out["feed"]["recipe"] = _feed_recipe(ctx, prep, fault_filter)
    out["titer"]["noise_floor_mape"] = noise_floor_mape(
        ctx.batches("test", faulty=False), batch_info
    )
    for name, entry in ladder_metrics(ctx, seq, rf, fault_filter, days).items():
        if isinstance(out["titer"].get(name), dict):  # rf, sequence: keep their own test
            entry = {k: v for k, v in entry.items() if k != "harvest_mape_by_day"}  # figures
            out["titer"][name].update(entry)
        else:
            out["titer"][name] = entry
    _figures(ctx, out, rf)
    return out


def _feed_recipe(ctx: RunContext, prep, fault_filter) -> dict:
    """Does the feed follow a recipe? Cross-validated on the training and validation batches;
    the verdict and its median schedule go to ``forecast/feed_recipe.json`` (predict then
    recommends the recipe's next value)."""
    import json

    from forecaster.data.io import atomic_write_text
    from forecaster.models.feed_recipe import feed_follows_recipe

    fit = pd.concat([ctx.batches("train", faulty=fault_filter),
                     ctx.batches("val", faulty=fault_filter)], ignore_index=True)  # fmt: skip
    state = [v for v in prep.variables if v != prep.feed]
    verdict = feed_follows_recipe(fit, prep.feed, state, seed=ctx.seed)
    path = ctx.run_dir / "forecast" / "feed_recipe.json"
    atomic_write_text(path, json.dumps(verdict.to_dict(), indent=1))
    return {**verdict.summary(), "sentence": verdict.sentence(prep.label(prep.feed))}


def ladder_metrics(ctx: RunContext, seq, rf, fault_filter, origin_days=ORIGIN_DAYS) -> dict:
    """The forecaster ladder beside the models: every naive rung, the ridge on the assay
    history and the forecast the tool gives (``chosen``), scored on the same test batches,
    with conformal intervals per origin day (``forecaster.pipeline.ladder``).

    Returns ``metrics["titer"]`` entries: ``naive_mean``, ``naive_ratio``, ``naive_slope``,
    ``ridge``, ``chosen``, ``rf``, ``sequence`` (same keys for every rung: the caller merges
    the last two into the models' own entries) and ``ladder`` (its settings); or
    ``{"ladder": {"note": ...}}`` when the data are too few for the folds.
    """
    import json

    from forecaster.data.io import atomic_write_text
    from forecaster.pipeline.ladder import chosen_forecast, fit_ladder

    train = ctx.batches("train", faulty=fault_filter)
    val = ctx.batches("val", faulty=fault_filter)
    n = train[schema.BATCH_ID].nunique() + val[schema.BATCH_ID].nunique()
    try:
        lad = fit_ladder(train, val, ctx.batches("test", faulty=False), sequence=seq, rf=rf,
                         origin_days=tuple(origin_days), k=min(5, max(2, n // 2)), seed=ctx.seed)  # fmt: skip
    except ConfigError as err:
        return {"ladder": {"note": f"forecaster ladder skipped: {err}"}}
    chosen = chosen_forecast(lad)
    if chosen is not None:  # predict and Monitor serve this choice (forecast/chosen.json)
        path = ctx.run_dir / "forecast" / "chosen.json"
        atomic_write_text(path, json.dumps(chosen.state_dict(), indent=1))
    return lad.metrics


def _figures(ctx: RunContext, metrics: dict, rf) -> None:
    from forecaster.data import targets
    from forecaster.pipeline.figures import forecast_figure, mape_by_day_figure, parity_figure

    figdir = ctx.figure_dir()
    seq = ctx.trained_forecaster()
    test = _groups(ctx.batches("test", faulty=False))
    if not test:
        return
    prep = seq.prep
    p_name, p_unit = prep.label(prep.product).lower(), prep.unit(prep.product)
    figs = {"forecast_mape_by_day": mape_by_day_figure(metrics, p_name)}
    figs["forecast_examples"] = forecast_figure(seq, test[:3], origin_days=(3, 7))
    pre = prefixes_at(test, 24.0 * 7)
    if pre:
        full = {str(g[schema.BATCH_ID].iloc[0]): g for g in test}
        truth7 = np.asarray(
            [
                targets.harvest_titer(full[str(p[schema.BATCH_ID].iloc[0])], prep.product)
                for p in pre
            ]
        )
        preds = {"sequence": seq.predict(pre)["harvest_titer_mg_L"].to_numpy()}
        if rf is not None:
            preds["rf"] = rf.predict(pre)["harvest_titer_mg_L"].to_numpy()
        figs["forecast_parity_day7"] = parity_figure(
            truth7, preds, f"harvest {p_name} from day 7", p_unit
        )
    import matplotlib.pyplot as plt

    for name, fig in figs.items():
        fig.savefig(figdir / f"{name}.png", dpi=110)
        if ctx.writer is not None:
            ctx.writer.add_figure(f"test/{name}", fig)
        plt.close(fig)
