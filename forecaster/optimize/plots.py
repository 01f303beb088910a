"""Figures of ``optimize``: key factors with intervals and effects; the recommended recipe."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

METHOD_TITLES = {"permutation": "Permutation importance (drop in R\u00b2)",
                 "pls_vip": "PLS VIP (> 1: important)"}  # fmt: skip


def key_factors_figure(kf: pd.DataFrame, pd_curves: pd.DataFrame, product: str, unit: str):
    """Importance bars with 90 % intervals per method, then effect curves of the top factors.

    Args:
        kf: one row per factor per method (``factor``, ``label``, ``unit``, ``method``,
            ``importance``, ``ci_lo``, ``ci_hi``, ``rank``).
        pd_curves: partial dependence (``factor``, ``value``, ``titer``, ``titer_lo``,
            ``titer_hi``) of a few factors.
        product, unit: the product's name and unit (axis labels).

    Returns:
        matplotlib Figure.
    """
    methods = list(dict.fromkeys(kf["method"]))
    curves = list(dict.fromkeys(pd_curves["factor"])) if len(pd_curves) else []
    ncol = max(len(methods), len(curves), 1)
    fig, axes = plt.subplots(2 if curves else 1, ncol, figsize=(4.6 * ncol, 8.5 if curves else 4.6),
                             squeeze=False)  # fmt: skip
    for ax, m in zip(axes[0], methods):
        d = kf[kf["method"] == m].sort_values("importance", kind="stable")
        y = np.arange(len(d))
        err = [d["importance"] - d["ci_lo"], d["ci_hi"] - d["importance"]]
        ax.barh(y, d["importance"], xerr=np.clip(err, 0, None), color="#4C72B0", alpha=0.85,
                error_kw={"lw": 1, "capsize": 2})  # fmt: skip
        ax.set_yticks(y, [f"{lab} ({u})" for lab, u in zip(d["label"], d["unit"])], fontsize=8)
        ax.axvline(1.0 if m == "pls_vip" else 0.0, color="grey", lw=0.8, ls="--")
        ax.set_title(METHOD_TITLES.get(m, m), fontsize=10)
    for ax in axes[0][len(methods) :]:
        ax.axis("off")
    labels = kf.drop_duplicates("factor").set_index("factor")
    for ax, f in zip(axes[1] if curves else [], curves):
        c = pd_curves[pd_curves["factor"] == f]
        ax.fill_between(c["value"], c["titer_lo"], c["titer_hi"], color="#DD8452", alpha=0.3)
        ax.plot(c["value"], c["titer"], color="#DD8452")
        lab = labels.loc[f] if f in labels.index else None
        ax.set_xlabel(f"{lab['label']} ({lab['unit']})" if lab is not None else f)
        ax.set_ylabel(f"predicted harvest {product} ({unit})")
        ax.set_title("effect (partial dependence, 80 % band)", fontsize=10)
    for ax in axes[1][len(curves) :] if curves else []:
        ax.axis("off")
    fig.tight_layout()
    return fig


def recipe_figure(recipe: pd.DataFrame, current, recommended, product: str, unit: str):
    """Predicted harvest titer with and without the recommendation; the factor moves.

    Args:
        recipe: ``factor``, ``label``, ``unit``, ``current``, ``recommended``,
            ``lower_bound``, ``upper_bound``.
        current, recommended: predictions with ``mean``, ``lo``, ``hi`` (80 % interval).
        product, unit: the product's name and unit.

    Returns:
        matplotlib Figure: left, the two predictions with intervals; right, each factor's
        current and recommended value as a position within its bounds.
    """
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.45 * len(recipe) + 3.2),
                               gridspec_kw={"width_ratios": [1, 2]})  # fmt: skip
    for x, p, col in [(0, current, "grey"), (1, recommended, "#55A868")]:
        a.errorbar(x, p.mean, yerr=[[p.mean - p.lo], [p.hi - p.mean]], fmt="o", ms=9,
                   color=col, capsize=6, lw=2)  # fmt: skip
        a.annotate(f"{p.mean:,.0f}", (x, p.mean), xytext=(8, 0), textcoords="offset points")
    a.set_xticks([0, 1], ["current recipe", "recommended"])
    a.set_xlim(-0.5, 1.5)
    a.set_ylabel(f"predicted harvest {product} ({unit}), 80 % interval")
    span = (recipe["upper_bound"] - recipe["lower_bound"]).replace(0, 1.0)
    pos_c = (recipe["current"] - recipe["lower_bound"]) / span
    pos_r = (recipe["recommended"] - recipe["lower_bound"]) / span
    y = np.arange(len(recipe))[::-1]
    b.hlines(y, 0, 1, color="#DDDDDD", lw=6)
    b.scatter(pos_c, y, color="grey", label="current", zorder=3)
    b.scatter(pos_r, y, color="#55A868", marker="D", label="recommended", zorder=3)
    for yi, pc, pr in zip(y, pos_c, pos_r):
        b.annotate("", (pr, yi), (pc, yi), arrowprops={"arrowstyle": "->", "color": "#55A868"})
    text = [f"{r.label} ({r.unit}): {r.current:.3g} \u2192 {r.recommended:.3g}"
            for r in recipe.itertuples()]  # fmt: skip
    b.set_yticks(y, text, fontsize=8)
    b.set_xticks([0, 1], ["lower bound", "upper bound"])
    b.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    b.set_title("recipe within the bounds", fontsize=10, pad=22)
    fig.tight_layout()
    return fig
