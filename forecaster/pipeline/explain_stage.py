"""The explain stage of a training run: attributions, RF importances, ground truth, report.

Returns what goes under ``metrics["attribution"]``::

    {<target>: {<method>: {"spearman_vs_truth", "spearman_all_variables", "top3_precision",
                           "top3"}, "truth": {...}, "ig_completeness_rel_error": ...},
     "ig_completeness_rel_error", "randomisation_similarity", "randomisation_self_similarity"
     (+ "_map" variants), "n_batches", "n_predictions", "seconds": {...}}

with target in ``feed``/``titer`` and method in ``ig``, ``ablation``, ``rf_impurity``,
``rf_permutation``. Files under ``<run>/explain/``: ``attributions.parquet`` (every
(time x variable) map), ``shares.parquet`` (per-prediction variable shares),
``global_importance_<target>.csv`` (methods + truth side by side), ``summary.json``,
``baseline.json`` (the IG/ablation baseline, for predict). Figures: ``figures/attr_*.png``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import torch

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.io import atomic_path, atomic_write_text
from forecaster.explain.agreement import max_spearman, score_methods
from forecaster.explain.config import ExplainConfig
from forecaster.explain.explainer import (
    SequenceExplainer,
    train_mean_baseline,
    train_mean_by_time_baseline,
)
from forecaster.explain.result import (
    AttributionResult,
    global_day_importance,
    global_importance,
    results_frame,
)
from forecaster.explain.rf_importance import (
    rf_design,
    rf_impurity_importance,
    rf_permutation_importance,
)
from forecaster.explain.sanity import completeness_rel_error, mean_similarity, modified_weights
from forecaster.pipeline.context import RunContext
from forecaster.pipeline.explain_report import markdown_section


def _split(table: pd.DataFrame, ids: list[str]) -> list[pd.DataFrame]:
    groups = {str(b): g for b, g in table.groupby(schema.BATCH_ID, sort=False)}
    return [groups[i].sort_values(schema.TIME) for i in ids if i in groups]


def origins_h(cfg: ExplainConfig, target: str) -> list[float]:
    days = cfg.feed_origin_days if target == "feed" else cfg.titer_origin_days
    return [24.0 * float(d) for d in days]


def run_explain_stage(ctx: RunContext) -> dict:
    """Explain the trained models on test batches; write files, figures, report section.

    Args:
        ctx: the run's context, after the forecaster stage (and the RF baseline, if any).
    """
    cfg: ExplainConfig = ctx.cfg.explain
    if not cfg.enabled:
        return {"enabled": False}
    model, rf = ctx.trained_forecaster(), ctx.rf
    cfg = cfg.for_process(feed_of(model.prep))  # no feed in the process: no feed head
    out_dir = ctx.run_dir / "explain"
    out_dir.mkdir(parents=True, exist_ok=True)
    normal = False if ctx.has_labels else None
    test_ids = (
        [b for b in ctx.splits["test"] if b not in ctx.faulty_ids]
        if ctx.has_labels
        else list(ctx.splits["test"])
    )
    test = _split(ctx.table, test_ids[: cfg.n_test_batches])
    train_rows = ctx.batches("train", faulty=normal)
    train = _split(
        train_rows, [b for b in ctx.splits["train"] if b in set(train_rows[schema.BATCH_ID])]
    )
    if cfg.baseline == "train_mean_by_time":
        baseline = train_mean_by_time_baseline(model, train)
    elif cfg.baseline == "train_mean":
        baseline = train_mean_baseline(model, train)
    else:
        baseline = np.zeros(model.prep.n_features, np.float32)
    atomic_write_text(
        out_dir / "baseline.json",
        json.dumps(
            {
                "kind": cfg.baseline,
                "features": list(model.prep.feature_names),
                "shape": list(baseline.shape),
                "rows": "one per hour since inoculation" if baseline.ndim == 2 else "one",
                "values": baseline.tolist(),
            }
        ),
    )

    device = attribution_device(cfg.device, ctx.trainer_kwargs.get("accelerator", "cpu"))
    model.net.to(device)
    try:
        return _explain(ctx, cfg, model, rf, test, baseline, out_dir, device)
    finally:
        model.net.cpu()


def attribution_device(setting: str, accelerator: str) -> torch.device:
    """``explain.device`` resolved: ``auto`` follows the run's accelerator when CUDA exists."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError("explain.device is cuda but no CUDA device is available")
    gpu_run = str(accelerator).lower() in ("gpu", "cuda", "auto")
    use = setting == "cuda" or (setting == "auto" and gpu_run and torch.cuda.is_available())
    return torch.device("cuda" if use else "cpu")


def feed_of(prep) -> str | None:
    """The process's primary feed as the fitted preprocessing records it (the CHO feed for
    preprocessing saved before it recorded one)."""
    return prep.feed if hasattr(prep, "feed") else schema.FEED


def product_of(prep) -> tuple[str, str]:
    """``(column, label)`` of the process's product from the fitted preprocessing."""
    product = str(getattr(prep, "product", None) or schema.TITER)
    labels = getattr(prep, "labels", None) or {}
    return product, str(labels.get(product) or product)


def _explain(ctx, cfg, model, rf, test, baseline, out_dir, device) -> dict:
    product, label = product_of(model.prep)
    metrics: dict = {
        "product": {"name": product, "label": label},
        "feed_column": feed_of(model.prep),
        "n_batches": len(test),
        "baseline": cfg.baseline,
        "device": device.type,
        "seconds": {},
    }
    results: list[AttributionResult] = []
    tables: dict[str, pd.DataFrame] = {}
    for target in cfg.targets:
        imps: dict[str, pd.Series] = {}
        for method in cfg.methods:
            t0 = time.perf_counter()
            ex = SequenceExplainer(
                model,
                method,
                n_steps=cfg.ig_steps,
                baseline=baseline,
                ablation_windows_h=cfg.ablation_windows_h,
                internal_batch_size=cfg.internal_batch_size,
            )
            res = ex.explain(test, target, origins_h(cfg, target))
            metrics["seconds"][f"{target}_{method}"] = round(time.perf_counter() - t0, 2)
            results += res
            imps[method] = global_importance(res)
            if method == "ig":
                metrics.setdefault(target, {})["ig_completeness_rel_error"] = (
                    completeness_rel_error(res)
                )
                metrics[target]["day_shares_ig"] = global_day_importance(res).round(4).to_dict()
        if rf is not None:
            t0 = time.perf_counter()
            imps.update(_rf_importances(
                rf, target, test, origins_h(cfg, target), cfg, ctx.seed, model.prep
            ))  # fmt: skip
            metrics["seconds"][f"{target}_rf"] = round(time.perf_counter() - t0, 2)
        tables[target] = pd.DataFrame(imps)
        metrics.setdefault(target, {}).update(
            {m: {"top3": list(s.index[: cfg.top_k])} for m, s in imps.items()}
        )

    ig = [r for r in results if r.method == "ig"]
    metrics["ig_completeness_rel_error"] = completeness_rel_error(ig)
    metrics["n_predictions"] = len(ig)
    if cfg.randomisation_batches > 0 and test:
        t0 = time.perf_counter()
        metrics.update(
            randomisation_check(model, test[: cfg.randomisation_batches], cfg, baseline, ctx.seed)
        )
        metrics["seconds"]["randomisation"] = round(time.perf_counter() - t0, 2)

    truths = _truths(ctx, cfg, model, metrics, test)
    for target, truth in truths.items():
        tab = tables[target]
        scores = score_methods(
            {m: tab[m].dropna() for m in tab},
            truth["importance"],
            truth["true_set"],
            cfg.top_k,
            truth["ranked"],
        )
        for m, s in scores.items():
            metrics[target][m].update(s)
        if "other_ranking" in truth:  # the same methods against the other question's ranking
            other = truth["other_ranking"]
            for m, s in score_methods(
                {m: tab[m].dropna() for m in tab},
                other["importance"],
                truth["true_set"],
                cfg.top_k,
                truth["ranked"],
            ).items():
                metrics[target][m][f"spearman_vs_truth_{other['name']}"] = s["spearman_vs_truth"]
        tables[target] = tab.join(truth["importance"].rename("truth"), how="outer")

    _write_files(out_dir, results, tables, metrics)
    figs = _figures(ctx, cfg, test, results, tables)
    ctx.report.append(markdown_section(metrics, tables, figs, cfg))
    return metrics


def _rf_importances(
    rf, target: str, test, origins, cfg: ExplainConfig, seed: int, prep=None
) -> dict[str, pd.Series]:
    out = {"rf_impurity": rf_impurity_importance(rf, target)}
    product = product_of(prep)[0] if prep is not None else None
    feed = feed_of(prep) if prep is not None else None
    X, y = rf_design(rf, test, target, origins, product, feed)
    out["rf_permutation"] = rf_permutation_importance(
        rf, target, X, y, cfg.rf_permutation_repeats, seed
    )
    return out


def randomisation_check(
    model, batches, cfg: ExplainConfig, baseline: np.ndarray, seed: int
) -> dict:
    """IG of the trained model vs. re-initialised and slightly perturbed weights.

    Returns:
        ``randomisation_similarity`` (trained vs. re-initialised weights) and
        ``randomisation_self_similarity`` (trained vs. 1 % weight noise): mean Spearman of
        the per-variable attribution totals of each prediction, over both targets. The
        ``*_map`` variants compare the full (time x variable) maps; they stay higher for a
        random model, because much of a map's structure comes from the inputs (``x -
        baseline``) and the network's skip path from the last step, not from training.
    """
    sims: dict[tuple[str, str], list[float]] = {}
    for target in cfg.targets:
        ex = SequenceExplainer(model, "ig", n_steps=cfg.ig_steps, baseline=baseline)
        ref = ex.explain(batches, target, origins_h(cfg, target))
        for mode in ("randomise", "perturb"):
            # offset: a re-initialisation with the seed that built the net would reproduce it
            with modified_weights(model.net, mode, seed=seed + 7919):
                other = ex.explain(batches, target, origins_h(cfg, target))
            for level in ("variables", "map"):
                sims.setdefault((mode, level), []).append(mean_similarity(ref, other, level))
    out = {}
    for (mode, level), v in sims.items():
        key = "randomisation_similarity" if mode == "randomise" else "randomisation_self_similarity"
        out[key + ("_map" if level == "map" else "")] = float(np.nanmean(v))
    return out


def _truths(ctx, cfg: ExplainConfig, model, metrics: dict, explained) -> dict[str, dict]:
    """Ground truth per target, or a note in ``metrics`` saying why there is none.

    The feed truth is computed on the decisions that were explained (``explained`` batches
    at the feed origins), ranked for the question the baseline asks (same-age shuffles for
    ``train_mean_by_time``); the other ranking is kept as ``other_ranking``.
    """
    if ctx.sim is None or not cfg.truth:
        note = "no ground truth: data not simulated" if ctx.sim is None else "ground truth disabled"
        metrics["truth_note"] = note
        return {}
    from forecaster.explain.ground_truth import titer_sensitivity_truth

    variables = list(dict.fromkeys(model.prep.feature_variables))
    out: dict[str, dict] = {}
    t0 = time.perf_counter()
    if "feed" in cfg.targets:
        rows = pd.concat(explained) if explained else ctx.table.iloc[:0]
        out["feed"] = feed_truth(ctx.sim, rows, cfg, variables)
    if "titer" in cfg.targets:
        days = cfg.truth_origin_days or cfg.titer_origin_days
        out["titer"] = titer_sensitivity_truth(
            ctx.sim, variables, days, cfg.truth_factor, cfg.truth_batches, ctx.seed, cfg.top_k
        )
    metrics["seconds"]["truth"] = round(time.perf_counter() - t0, 2)
    for target, truth in out.items():
        metrics[target]["truth"] = {
            "definition": truth["definition"],
            "true_set": sorted(truth["true_set"]),
            "ranked": list(truth["ranked"]),
            "max_spearman_all_variables": max_spearman(truth["importance"]),
            "ranking": truth["importance"].round(4).to_dict(),
        }
        if "other_ranking" in truth:
            o = truth["other_ranking"]
            metrics[target]["truth"][f"ranking_{o['name']}"] = o["importance"].round(4).to_dict()
    return out


def feed_truth(sim_cfg, rows: pd.DataFrame, cfg: ExplainConfig, variables) -> dict:
    """Feed-policy truth on the explained decisions (``rows`` at the feed origins), ranked for
    the baseline's question (same-hour shuffles for ``train_mean_by_time``); the other ranking
    rides along as ``other_ranking = {"name", "importance"}``."""
    from forecaster.explain.ground_truth import feed_policy_truth

    at = np.isin(np.round(rows[schema.TIME].to_numpy(dtype=float), 6), origins_h(cfg, "feed"))
    if not at.any():  # origins off the decision grid: every decision of those batches
        at[:] = True
    same_age = cfg.baseline == "train_mean_by_time"
    truth = feed_policy_truth(sim_cfg, rows[at], variables, same_age=same_age)
    other = feed_policy_truth(sim_cfg, rows[at], variables, same_age=not same_age)
    truth["other_ranking"] = {
        "name": "all_ages" if same_age else "same_age",
        "importance": other["importance"],
    }
    return truth


def _write_files(out_dir, results, tables, metrics) -> None:
    frame = results_frame(results)
    for col in ("target", "method", "variable", schema.BATCH_ID):
        frame[col] = frame[col].astype("category")
    for col in ("attribution", "magnitude"):
        frame[col] = frame[col].astype("float32")
    with atomic_path(out_dir / "attributions.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    shares = pd.DataFrame(
        [
            {
                schema.BATCH_ID: r.batch_id,
                "target": r.target,
                "method": r.method,
                "origin_h": r.origin_h,
                "prediction": r.prediction,
                "baseline_prediction": r.baseline_prediction,
                "convergence_delta": r.convergence_delta,
                **r.variable_shares().to_dict(),
            }
            for r in results
        ]
    )
    with atomic_path(out_dir / "shares.parquet") as tmp:
        shares.to_parquet(tmp, index=False)
    for target, tab in tables.items():
        csv = tab.rename_axis("variable").to_csv()
        atomic_write_text(out_dir / f"global_importance_{target}.csv", csv)
    atomic_write_text(
        out_dir / "summary.json", json.dumps(_plain(metrics), indent=2, sort_keys=True)
    )


def _figures(ctx, cfg: ExplainConfig, test, results, tables) -> dict[str, str]:
    """Heatmaps of the example batch and global bar charts; paths relative to the run folder."""
    import matplotlib.pyplot as plt

    from forecaster.explain.plots import heatmap_figure, importance_bars_figure

    figs: dict[str, str] = {}
    fig_dir = ctx.figure_dir()
    by_id = {str(b[schema.BATCH_ID].iloc[0]): b for b in test}
    example = cfg.example_batch if cfg.example_batch in by_id else next(iter(by_id), None)
    for target in cfg.targets:
        mine = [
            r for r in results if r.batch_id == example and r.target == target and r.method == "ig"
        ]
        if mine:
            fig = heatmap_figure(max(mine, key=lambda r: r.origin_h), by_id[example])
            figs[f"heatmap_{target}"] = _save(ctx, fig, fig_dir, f"attr_heatmap_{target}")
            plt.close(fig)
        fig = importance_bars_figure(
            tables[target], f"Global importance, {target} head ({len(test)} test batches)"
        )
        figs[f"global_{target}"] = _save(ctx, fig, fig_dir, f"attr_global_{target}")
        plt.close(fig)
    return figs


def _save(ctx, fig, fig_dir, name: str) -> str:
    fig.savefig(fig_dir / f"{name}.png", dpi=110)
    writer = getattr(ctx, "writer", None)
    if writer is not None and hasattr(writer, "add_figure"):
        writer.add_figure(f"explain/{name}", fig, close=False)
    return f"figures/{name}.png"


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
