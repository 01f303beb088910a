"""Attribution benchmark: speed for 100 test batches, feed-head agreement, sanity checks.

    python benchmarks/bench_explain.py --run-dir checkpoints/quickstart
    python benchmarks/bench_explain.py --run-dir /tmp/bench_run --train   # train one first

Loads the trained sequence model of a run folder, simulates ``--n-batches`` fresh fault-free
batches with the run's simulator config (a seed the run never saw), and times the explain
settings of the run's config (``explain:`` section): Integrated Gradients of both heads at
their origin days (the speed bar: < 60 s for 100 batches), Feature Ablation, and the live
forecast of ``predict`` (one prediction per batch). Scores the global importances against
the feed policy's true inputs and reports IG completeness and the randomisation check.
Prints the figures next to the bars and writes ``benchmarks/results/explain.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import torch

from forecaster import schema
from forecaster.explain.agreement import max_spearman, score_methods
from forecaster.explain.explainer import SequenceExplainer, explain_batches, load_baseline
from forecaster.explain.result import global_importance
from forecaster.explain.sanity import completeness_rel_error
from forecaster.models.sequence import SequenceForecaster
from forecaster.pipeline.config import load_config_file, parse_config
from forecaster.pipeline.explain_stage import feed_truth, origins_h, randomisation_check

ROOT = Path(__file__).resolve().parents[1]

BARS = {
    "feed.ig.top3_precision": (">=", 0.8),
    "feed.ig.spearman_vs_truth": (">=", 0.7),
    "ig_completeness_rel_error": ("<=", 0.05),
    "seconds.ig_both_heads": ("<", 60.0),
}
TRAIN_ARGS = [
    "--config", "configs/quickstart.yaml",
    "--anomaly.enabled", "false",
    "--explain.enabled", "false",
    "--trainer.enable_progress_bar", "false",
]  # fmt: skip


def _get(d: dict, dotted: str):
    for k in dotted.split("."):
        d = d.get(k, {}) if isinstance(d, dict) else {}
    return d if isinstance(d, (int, float)) else None


def _ok(op: str, x, bar) -> bool | None:
    if x is None:
        return None
    return {">=": x >= bar, "<=": x <= bar, "<": x < bar}[op]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument(
        "--train", action="store_true", help="train the run folder first (quickstart config)"
    )
    ap.add_argument("--n-batches", type=int, default=100)
    ap.add_argument(
        "--seed", type=int, default=1000, help="simulator seed of the explained batches"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explain.json")
    args, extra = ap.parse_known_args()
    torch.set_num_threads(args.threads)

    if args.train:
        from forecaster.pipeline.train import run

        run_dir = args.run_dir.resolve()
        argv = [
            *TRAIN_ARGS,
            "--output_dir",
            str(run_dir.parent),
            "--run_name",
            run_dir.name,
            *extra,
        ]
        cfg, text = parse_config(argv)
        run(cfg, text)
    cfg, _ = load_config_file(args.run_dir / "config.yaml")
    ecfg = cfg.explain
    model = SequenceForecaster.load(args.run_dir / "forecast" / "model.pt")
    torch.set_num_threads(args.threads)  # training may have changed it

    from forecaster.sim import simulate

    sim_cfg = copy.deepcopy(cfg.sim)
    sim_cfg.faults.rate = 0.0
    table = simulate(sim_cfg, n_batches=args.n_batches, seed=args.seed).table
    batches = [g.sort_values(schema.TIME) for _, g in table.groupby(schema.BATCH_ID, sort=True)]
    baseline = load_baseline(args.run_dir)

    out: dict = {"n_batches": len(batches), "threads": args.threads, "seconds": {}, "feed": {}}
    res: dict = {}
    for method in ecfg.methods:
        for target in ("feed", "titer"):
            ex = SequenceExplainer(
                model,
                method,
                n_steps=ecfg.ig_steps,
                baseline=baseline,
                ablation_windows_h=ecfg.ablation_windows_h,
                internal_batch_size=ecfg.internal_batch_size,
            )
            t0 = time.perf_counter()
            res[(target, method)] = ex.explain(batches, target, origins_h(ecfg, target))
            out["seconds"][f"{target}_{method}"] = round(time.perf_counter() - t0, 2)
    s = out["seconds"]
    s["ig_both_heads"] = round(s["feed_ig"] + s["titer_ig"], 2)
    t0 = time.perf_counter()
    live = explain_batches(model, batches, "titer", "ig", baseline=baseline)
    live += explain_batches(model, batches, "feed", "ig", baseline=baseline)
    s["live_ig_both_heads"] = round(time.perf_counter() - t0, 2)
    out["n_predictions_ig"] = len(res[("feed", "ig")]) + len(res[("titer", "ig")])
    out["ig_completeness_rel_error"] = completeness_rel_error(
        res[("feed", "ig")] + res[("titer", "ig")]
    )
    out["live_ig_completeness_rel_error"] = completeness_rel_error(live)

    variables = list(dict.fromkeys(model.prep.feature_variables))
    # the stage's definition: the explained decisions, ranked for the baseline's question
    truth = feed_truth(sim_cfg, table, ecfg, variables)
    other, other_name = truth["other_ranking"], truth["other_ranking"]["name"]
    imps = {m: global_importance(res[("feed", m)]) for m in ecfg.methods}
    out["feed"] = score_methods(
        imps, truth["importance"], truth["true_set"], ecfg.top_k, truth["ranked"]
    )
    for m, sc in score_methods(
        imps, other["importance"], truth["true_set"], ecfg.top_k, truth["ranked"]
    ).items():
        out["feed"][m][f"spearman_vs_truth_{other_name}"] = sc["spearman_vs_truth"]
    out["feed_truth_definition"] = truth["definition"]
    out["feed_truth_max_spearman_all_variables"] = max_spearman(truth["importance"])
    for m, imp in imps.items():
        out["feed"][m]["top5"] = imp.round(3).iloc[:5].to_dict()
    out["feed"]["truth"] = truth["importance"][truth["importance"] > 0].round(3).to_dict()
    out["feed"][f"truth_{other_name}"] = (
        other["importance"][other["importance"] > 0].round(3).to_dict()
    )
    t0 = time.perf_counter()
    out.update(
        randomisation_check(
            model, batches[: ecfg.randomisation_batches], ecfg, _baseline(model, baseline), cfg.seed
        )
    )
    s["randomisation"] = round(time.perf_counter() - t0, 2)
    out["machine"] = {
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    out["bars"] = {}
    for key, (op, bar) in BARS.items():
        x = _get(out, key)
        out["bars"][key] = {"value": x, "bar": f"{op} {bar}", "ok": _ok(op, x, bar)}
        print(
            f"{key:34s} {x if x is None else round(x, 4)!s:>10}  bar {op} {bar}  {'ok' if _ok(op, x, bar) else 'MISSED'}"
        )
    print(json.dumps({k: v for k, v in out.items() if k != "bars"}, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=float))


def _baseline(model, baseline):
    from forecaster.explain.explainer import default_baseline

    return default_baseline(model) if baseline is None else baseline


if __name__ == "__main__":
    main()
