"""The ``## Explanations`` section of ``report.md``: tables, sanity checks, figure links."""

from __future__ import annotations

import pandas as pd

from forecaster.explain.config import ExplainConfig

METHOD_NAMES = {
    "ig": "Integrated Gradients (sequence model)",
    "ablation": "Feature Ablation (sequence model)",
    "rf_impurity": "RF impurity importance",
    "rf_permutation": "RF permutation importance (test)",
}


BASELINE_TEXT = {
    "train_mean_by_time": (
        "the mean training batch at the same hour since inoculation: an attribution says why "
        "this prediction differs from the one for a typical batch of the same age"
    ),
    "train_mean": "every feature at its training mean",
    "zeros": "all scaled features 0",
}


def _f(x, fmt: str = ".2f") -> str:
    return "n/a" if x is None or x != x else format(x, fmt)


def markdown_section(
    metrics: dict, tables: dict[str, pd.DataFrame], figs: dict[str, str], cfg: ExplainConfig
) -> str:
    """Markdown: per target a method-vs-truth table and the global importance table."""
    product = metrics.get("product", {}).get("label") or "titer"
    product = "titer" if product == "Titer" else product
    feed_text = (
        f"feed recommendations explained at days {', '.join(_f(d, 'g') for d in cfg.feed_origin_days)}, "
        if "feed" in cfg.targets
        else "no feed in the process (feed head not explained); "
    )
    lines = [
        "## Explanations: what drives the predictions",
        "",
        f"{metrics.get('n_batches', 0)} normal test batches; {feed_text}harvest {product} at days "
        f"{', '.join(_f(d, 'g') for d in cfg.titer_origin_days)}. Baseline of Integrated Gradients and "
        f"ablation: `{cfg.baseline}` ({BASELINE_TEXT[cfg.baseline]}); an attribution is the "
        "part of *prediction minus baseline prediction* (scaled model output) due to a variable. "
        "Shares are of the total absolute attribution. Where methods disagree, trust neither blindly.",
        "",
        "### Sanity checks",
        "",
        f"- Integrated Gradients completeness, relative error (sum |delta| / sum |f(x) - f(baseline)|): "
        f"{_f(metrics.get('ig_completeness_rel_error'), '.2%')} (bar: <= 5 %)",
        f"- Model randomisation: similarity of IG attributions, trained vs. re-initialised weights "
        f"{_f(metrics.get('randomisation_similarity'))}; trained vs. 1 % weight noise "
        f"{_f(metrics.get('randomisation_self_similarity'))} (mean Spearman of per-variable totals; the "
        f"first must be clearly lower). Full time x variable maps: "
        f"{_f(metrics.get('randomisation_similarity_map'))} vs. "
        f"{_f(metrics.get('randomisation_self_similarity_map'))}",
        "",
    ]
    if "truth_note" in metrics:
        lines += [f"*{metrics['truth_note']}: agreement scores are not computed.*", ""]
    for target, tab in tables.items():
        m = metrics.get(target, {})
        head = "Feed-rate recommendation" if target == "feed" else f"Harvest {product}"
        lines += [f"### {head}", ""]
        truth = m.get("truth")
        if truth:
            lines += [
                f"Ground truth: {truth['definition']}. Spearman is computed over the variables the "
                f"truth orders ({', '.join(truth.get('ranked', []))}); over all variables, ties cap it "
                f"at {_f(truth.get('max_spearman_all_variables'))}.",
                "",
            ]
        lines += [
            "| method | top 3 (all inputs) | Spearman vs. truth | Spearman, all variables | top-3 precision |",
            "|---|---|---|---|---|",
        ]
        for meth in [c for c in tab.columns if c != "truth"]:
            mm = m.get(meth, {})
            lines.append(
                f"| {METHOD_NAMES.get(meth, meth)} | {', '.join(mm.get('top3', []))} | "
                f"{_f(mm.get('spearman_vs_truth'))} | {_f(mm.get('spearman_all_variables'))} | "
                f"{_f(mm.get('top3_precision'))} |"
            )
        order = tab.fillna(0).mean(axis=1).sort_values(ascending=False).index
        lines += [
            "",
            "| variable | " + " | ".join(tab.columns) + " |",
            "|---|" + "---|" * tab.shape[1],
        ]
        for v in order:
            lines.append(
                f"| {v} | " + " | ".join(_f(tab.loc[v, c], ".3f") for c in tab.columns) + " |"
            )
        lines.append("")
        for key, caption in (
            (f"global_{target}", "Global importance"),
            (f"heatmap_{target}", "Example batch"),
        ):
            if key in figs:
                lines.append(f"![{caption}, {target}]({figs[key]})")
        lines.append("")
    return "\n".join(lines)
