"""Key factors against the simulator's ground truth, and the recommender's speed.

Usage: ``python benchmarks/bench_key_factors.py [--sizes 20 40 100] [--seeds 5]
[--gt-batches 20000]``.

Ground truth: the first-order variance-based (Sobol) sensitivity of the noise-free harvest
titer to each recipe and start factor, S_i = Var(E[titer | x_i]) / Var(titer), estimated by
binned conditional variance from ``--gt-batches`` fault-free simulated batches drawn from
the default per-batch spreads (``Variability``): one bin per value for factors drawn on a
grid (set points, shift day, feed start), 25 quantile bins for the others, and the
(bins - 1) / N bias correction of the between-bin variance. Factors with S < ``--tie``
have no detectable first-order effect and share the last rank.

A ceiling (``oracle_true_draws``): the same batch model fitted on the simulator's true
draws and noise-free titer of the same batches.

Then, for each size and seed, fault-free batches are simulated (seeds apart from the
ground truth's), the tool extracts the factors from the batch table alone
(:func:`forecaster.optimize.extract_factors`) and ranks them
(:func:`forecaster.optimize.key_factors`); each method's ranking is scored against the
ground truth by Spearman's rho and top-3 precision (``spearman_effects``: Spearman over the factors with S >= ``--tie`` only, the
order of the real effects). The time of one recommendation
(:func:`forecaster.optimize.recommend`) at the largest size is measured too, and the
recommended and current recipes are each run in the simulator (200 batches, the
uncontrolled spread drawn as usual) to see whether the recommendation raises the titer. Writes
``benchmarks/results/key_factors.json`` and ``key_factors.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from forecaster.optimize import extract_factors, key_factors, recommend
from forecaster.sim import FaultsConfig, SimConfig, simulate

#: Tool factor (from the batch table) -> the simulator's per-batch draw it reads.
TRUTH = {
    "temperature_setpoint_C_end": "temperature_post_shift_C",
    "temperature_setpoint_C_change_day": "temperature_shift_day",
    "temperature_setpoint_C_start": "temperature_pre_shift_C",
    "do_setpoint_pct": "do_setpoint_pct",
    "ph_setpoint": "ph_setpoint",
    "feed_glucose_g_L": "feed_glucose_g_L",
    "feed_rate_mL_h_start_day": "feed_start_day",
    "vcd_1e6_cells_mL_initial": "inoculum_vcd_1e6_cells_mL",
    "viability_pct_initial": "inoculum_viability_pct",
    "glucose_g_L_initial": "initial_glucose_g_L",
    "glutamine_mM_initial": "initial_glutamine_mM",
    "lactate_g_L_initial": "initial_lactate_g_L",
    "ammonia_mM_initial": "initial_ammonia_mM",
}
CFG = SimConfig(faults=FaultsConfig(rate=0.0))
GT_SEED = 10_000
COLS = ["spearman", "top3_precision", "spearman_effects"]


def first_order(x: np.ndarray, y: np.ndarray, n_bins: int = 25) -> float:
    """Binned estimate of Var(E[y | x]) / Var(y) with the small-sample bias removed."""
    u = np.unique(x)
    g = np.searchsorted(u, x) if len(u) <= n_bins else pd.qcut(x, n_bins, labels=False,
                                                                duplicates="drop")  # fmt: skip
    st = pd.DataFrame({"g": g, "y": y}).groupby("g")["y"].agg(["mean", "var", "count"])
    n, k = len(y), len(st)
    between = float((st["count"] * (st["mean"] - y.mean()) ** 2).sum()) / n
    within = float((st["count"] * st["var"].fillna(0.0)).sum()) / n
    return (between - (k - 1) / n * within) / float(y.var())


def ground_truth(n_batches: int, chunk: int = 5000) -> dict[str, float]:
    """S_i of every factor of :data:`TRUTH` from ``n_batches`` simulated batches."""
    parts = [simulate(CFG, n_batches=min(chunk, n_batches - i), seed=GT_SEED + i).batches
             for i in range(0, n_batches, chunk)]  # fmt: skip
    b = pd.concat(parts, ignore_index=True)
    y = b["harvest_titer_true_mg_L"].to_numpy(float)
    return {f: first_order(b[p].to_numpy(float), y) for f, p in TRUTH.items()}


def scores(table: pd.DataFrame, truth: dict[str, float], tie: float) -> dict[str, float]:
    """Spearman's rho and top-3 precision of one method's ranking against the truth."""
    names = list(truth)
    g = np.array([truth[n] if truth[n] >= tie else 0.0 for n in names])
    imp = table.set_index("factor").reindex(names)["importance"].fillna(-np.inf).to_numpy()
    top_true = set(np.argsort(-g, kind="stable")[:3])
    top_tool = set(np.argsort(-imp, kind="stable")[:3])
    imp = np.where(np.isfinite(imp), imp, -1e9)
    rho = float(spearmanr(g, imp).statistic)
    real = g > 0  # the order among the factors with a detectable effect only
    rho_real = float(spearmanr(g[real], imp[real]).statistic) if real.sum() > 2 else np.nan
    return {"spearman": rho, "top3_precision": len(top_true & top_tool) / 3.0,
            "spearman_effects": rho_real}  # fmt: skip


def oracle(batches: pd.DataFrame) -> pd.DataFrame:
    """A ceiling: the batch model fitted on the simulator's true draws and noise-free titer.

    Importance is each factor's main-effect variance in the fitted model (its first-order
    share). What no method working from the batch table can beat at that number of batches:
    the titer spread the factors do not explain (clone productivity, growth rate) is the
    same for both.
    """
    from forecaster.optimize import TiterModel

    X = np.column_stack([batches[p].to_numpy(float) for p in TRUTH.values()])
    m = TiterModel().fit(X, batches["harvest_titer_true_mg_L"].to_numpy(float))
    Z, p = (X - m.mean_) / m.scale_, X.shape[1]
    imp = [np.var(Z[:, j] * m.coef_[j] + (Z[:, j] ** 2 - 1) * m.coef_[p + j]) for j in range(p)]
    return pd.DataFrame({"factor": list(TRUTH), "importance": imp})


def simulated_titer(recipe: dict[str, float], n_batches: int = 200, seed: int = 0) -> float:
    """Mean noise-free harvest titer of batches run at ``recipe`` (tool factor -> value); the
    uncontrolled spread (clone, media, growth) is drawn as usual."""
    import dataclasses

    from forecaster.sim import Dist

    fixed = {TRUTH[f]: Dist(float(v), 0.0, float(v), float(v)) for f, v in recipe.items()
             if f in TRUTH}  # fmt: skip
    cfg = dataclasses.replace(CFG, variability=dataclasses.replace(CFG.variability, **fixed))
    return float(
        simulate(cfg, n_batches=n_batches, seed=seed).batches["harvest_titer_true_mg_L"].mean()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 40, 100])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--gt-batches", type=int, default=20000)
    ap.add_argument("--n-boot", type=int, default=50)
    ap.add_argument("--tie", type=float, default=0.005)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "key_factors.json"
    )
    args = ap.parse_args()

    t0 = time.perf_counter()
    truth = ground_truth(args.gt_batches)
    gt_s = time.perf_counter() - t0
    print(
        "ground truth S_i:",
        {k: round(v, 4) for k, v in sorted(truth.items(), key=lambda kv: -kv[1])},
    )
    runs, recs = [], []
    for n in args.sizes:
        for seed in range(args.seeds):
            res = simulate(CFG, n_batches=n, seed=seed)
            bf = extract_factors(res.table)
            kf = key_factors(bf, n_boot=args.n_boot, seed=seed, early=False)
            known = kf.table[kf.table["kind"] != "early"]
            for method, t in known.groupby("method"):
                runs.append({"n_batches": n, "seed": seed, "method": method, **scores(t, truth, args.tie),
                             "top3": list(t.sort_values("rank")["factor"][:3])})  # fmt: skip
            mean_rank = known.groupby("factor")["rank"].mean().rename("importance") * -1
            runs.append({"n_batches": n, "seed": seed, "method": "consensus",
                         **scores(mean_rank.reset_index(), truth, args.tie), "top3": []})  # fmt: skip
            runs.append({"n_batches": n, "seed": seed, "method": "oracle_true_draws",
                         **scores(oracle(res.batches), truth, args.tie), "top3": []})  # fmt: skip
            if n == max(args.sizes) and seed < 3:
                import optuna  # noqa: F401  (the import is not the recommendation's time)

                t1 = time.perf_counter()
                rec = recommend(bf, seed=seed)
                rec_pred = {"seed": seed, "seconds": time.perf_counter() - t1,
                            "current": vars(rec.current), "recommended": vars(rec.recommended)}  # fmt: skip
                r = rec.recipe.set_index("factor")
                rec_pred["simulated_mean_titer"] = {  # 200 batches at each recipe, same seed
                    "current": simulated_titer(r["current"].to_dict()),
                    "recommended": simulated_titer(r["recommended"].to_dict()),
                }
                recs.append(rec_pred)
                print("recommendation checked in the simulator:", rec_pred, flush=True)
            print(f"n={n} seed={seed}: " + ", ".join(
                f"{r['method']} rho {r['spearman']:.2f} top3 {r['top3_precision']:.2f}"
                for r in runs[-4:]), flush=True)  # fmt: skip
    df = pd.DataFrame(runs)
    summary = (df.groupby(["n_batches", "method"])[COLS]
               .agg(["mean", "min", "max"]).round(3))  # fmt: skip
    print(summary.to_string())
    big = df[df["n_batches"] == max(args.sizes)].groupby("method")[COLS].mean()
    out = {
        "ground_truth": {"method": "binned first-order conditional variance (Sobol S_i), "
                         "bias-corrected", "n_batches": args.gt_batches, "tie_below": args.tie,
                         "seconds": round(gt_s, 1), "S": truth},
        "sizes": args.sizes, "seeds": args.seeds, "n_boot": args.n_boot,
        "summary": {f"{n}/{m}": {k: float(v) for k, v in row.items()}
                    for (n, m), row in df.groupby(["n_batches", "method"])[
                        COLS].mean().iterrows()},
        "bars_at_largest": {m: {"spearman>=0.8": bool(r["spearman"] >= 0.8),
                                "top3>=0.8": bool(r["top3_precision"] >= 0.8)}
                            for m, r in big.iterrows()},
        "cpu_count": os.cpu_count(), "recommendations": recs,
        "runs": runs,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    _plot(df, truth, args.out.with_suffix(".png"))
    print(f"recommendation: {max((r['seconds'] for r in recs), default=0):.2f} s at most; "
          f"wrote {args.out}")  # fmt: skip


def _plot(df: pd.DataFrame, truth: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    s = pd.Series(truth).sort_values()
    axes[0].barh(s.index, s.values, color="#4C72B0")
    axes[0].set_title("ground truth: first-order sensitivity S_i")
    axes[0].tick_params(axis="y", labelsize=7)
    for ax, col in zip(axes[1:], ["spearman", "top3_precision"]):
        for method, d in df.groupby("method"):
            m = d.groupby("n_batches")[col].agg(["mean", "min", "max"])
            ax.errorbar(m.index, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]],
                        marker="o", capsize=3, label=method)  # fmt: skip
        ax.axhline(0.8, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("batches")
        ax.set_title(f"{col} (mean, min-max over seeds)", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
