"""Settings of the explain stage (the ``explain:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS: tuple[str, ...] = ("ig", "ablation")
TARGETS: tuple[str, ...] = ("feed", "titer")
BASELINES: tuple[str, ...] = ("train_mean_by_time", "train_mean", "zeros")


@dataclass
class ExplainConfig:
    """What the explain stage computes and how.

    Attributes:
        enabled: run the stage at the end of training.
        n_test_batches: test batches explained (the first ones in split order).
        targets: model heads explained: ``feed`` (next feed rate), ``titer`` (harvest titer
            median).
        methods: attribution methods on the sequence model: ``ig`` (Integrated Gradients,
            always computed) and ``ablation`` (Feature Ablation of one variable over one
            ``ablation_window_h`` window at a time).
        feed_origin_days: forecast origins (days since inoculation) of the explained feed
            recommendations; each prefix ends at the last row at or before the origin.
        titer_origin_days: forecast origins of the explained harvest-titer predictions.
        ig_steps: Integrated Gradients interpolation steps (Gauss-Legendre rule).
        baseline: reference input of IG and ablation. ``train_mean_by_time`` (default): the
            mean training batch at the same process hour (every feature averaged over the
            training rows in each 1-h bin since inoculation; attributions explain the
            difference from a typical batch at the same age). ``train_mean``: every feature at
            its mean over all training rows (in scaled space: 0 for every variable's value,
            the mean assay mask / assay age / clock for the helper features); ``zeros``:
            all features 0. Attributions explain ``f(x) - f(baseline)``.
        ablation_windows_h: ``ablation`` window edges, hours back from the forecast origin
            (ascending): ``[24, 72]`` ablates the last 24 h, 24-72 h back and the older
            history of each variable separately.
        internal_batch_size: prefixes x steps per forward/backward pass (memory bound).
        randomisation_batches: test batches used by the model-randomisation check (0 = off).
        rf_permutation_repeats: shuffles per variable of the RF permutation importance.
        truth: compute the simulator ground truth (needs ``ctx.sim``).
        truth_batches: simulated batches per perturbation run of the titer sensitivity.
        truth_factor: multiplicative perturbation of one state (e.g. 1.2 = +20 %).
        truth_origin_days: when the state is perturbed; empty = ``titer_origin_days``.
        example_batch: batch shown in the heatmap figure (default: the first test batch).
        top_k: k of the top-k precision.
        device: where attributions run: ``auto`` (CUDA when the run trains on a GPU and one
            is present, else the CPU), ``cpu`` or ``cuda``.
    """

    enabled: bool = True
    n_test_batches: int = 100
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    feed_origin_days: list[float] = field(default_factory=lambda: [3.0, 5.0, 7.0, 9.0, 11.0])
    titer_origin_days: list[float] = field(default_factory=lambda: [4.0, 7.0])
    ig_steps: int = 16
    baseline: str = "train_mean_by_time"
    ablation_windows_h: list[float] = field(default_factory=lambda: [24.0, 72.0])
    internal_batch_size: int = 1024
    randomisation_batches: int = 20
    rf_permutation_repeats: int = 5
    truth: bool = True
    truth_batches: int = 24
    truth_factor: float = 1.2
    truth_origin_days: list[float] = field(default_factory=list)
    example_batch: str | None = None
    top_k: int = 3
    device: str = "auto"

    def for_process(self, feed: str | None) -> ExplainConfig:
        """These settings for a process with primary feed ``feed``: without one there is
        no feed recommendation to explain, so ``feed`` leaves ``targets``."""
        if feed is not None or "feed" not in self.targets:
            return self
        from dataclasses import replace

        return replace(self, targets=[t for t in self.targets if t != "feed"])

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"explain.device must be auto, cpu or cuda, got {self.device!r}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"explain.methods: unknown {bad}; expected some of {list(METHODS)}")
        bad = [t for t in self.targets if t not in TARGETS]
        if bad:
            raise ValueError(f"explain.targets: unknown {bad}; expected some of {list(TARGETS)}")
        if self.baseline not in BASELINES:
            raise ValueError(
                f"explain.baseline: {self.baseline!r}; expected one of {list(BASELINES)}"
            )
        if "ig" not in self.methods:
            self.methods = ["ig", *self.methods]
        if self.ig_steps < 2:
            raise ValueError(f"explain.ig_steps must be >= 2, got {self.ig_steps}")
        edges = list(self.ablation_windows_h)
        if any(e <= 0 for e in edges) or edges != sorted(edges):
            raise ValueError(f"explain.ablation_windows_h must be ascending and > 0, got {edges}")
