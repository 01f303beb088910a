"""Settings of the anomaly stage (the ``anomaly:`` section of a run config).

Defaults are physically sensible for a CHO fed-batch (see ``shared/DOMAIN.md``): DO set
point 30-50 % of air saturation, pH dead band 0.05-0.1, temperature 36.5-37 C with a shift
to 31-34 C, glucose starvation below about 0.5 g/L, viability > 90 % during growth.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

CELLS: tuple[str, ...] = ("gru", "lstm")
THRESHOLD_METHODS: tuple[str, ...] = ("event_rate", "quantile")
ERR_NORMS: tuple[str, ...] = ("mean", "median")
SCORE_ROLES: tuple[str, ...] = ("online", "control", "offline", "setpoint", "static")
#: Defaults of the event merging and set-point transient (also for run folders saved
#: before these settings existed).
MERGE_GAP_H = 12.0
SETPOINT_TRANSIENT_H = 3.0
#: The PCA monitor's own threshold defaults (its other threshold settings are the same as
#: the autoencoder's, as they were when both shared one ``threshold`` section).
PCA_THRESHOLD: dict[str, Any] = {"persistence_steps": 2, "clear_steps": 6, "margin": 1.0}
#: Config section class of each registered scorer (filled by ``registry.register_scorer``).
SCORER_SECTIONS: dict[str, type] = {}


@dataclass
class ThresholdConfig:
    """Alarm threshold of a score, calibrated on fault-free validation batches.

    Attributes:
        method: ``event_rate``: the lowest threshold whose alarm events on the calibration
            batches stay within ``target_false_alarms_per_100_batch_days``; ``quantile``:
            the ``quantile`` of the per-step scores.
        target_false_alarms_per_100_batch_days: allowed false-alarm rate (event_rate).
        quantile: per-step quantile (quantile method).
        margin: factor applied to the calibrated value (1 = none); >1 trades delay for
            fewer false alarms on batches unlike the calibration set.
        persistence_steps: consecutive steps above threshold before an alarm is raised.
        clear_steps: consecutive steps below threshold that end an alarm event.
        merge_gap_h: an alarm raised less than this many hours after the previous event of
            the same detector in the same batch ended continues that event instead of
            starting a new one (an engineer sees one alarm, not flicker); 0 = off.
        setpoint_transient_h: hours after a set-point step during which that variable's
            error is left out of the score (its reading lags the step); 0 = off.

    Each scorer's config section has its own ``threshold`` (the calibration counts events
    the way detection raises them).
    """

    method: str = "event_rate"
    target_false_alarms_per_100_batch_days: float = 0.3
    quantile: float = 0.999
    margin: float = 1.2
    persistence_steps: int = 1
    clear_steps: int = 6
    merge_gap_h: float = MERGE_GAP_H
    setpoint_transient_h: float = SETPOINT_TRANSIENT_H

    def __post_init__(self) -> None:
        if self.method not in THRESHOLD_METHODS:
            raise ValueError(
                f"anomaly threshold method {self.method!r}; expected {THRESHOLD_METHODS}"
            )
        if self.persistence_steps < 1 or self.clear_steps < 1:
            raise ValueError("anomaly threshold persistence_steps and clear_steps must be >= 1")
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"anomaly threshold quantile must be in (0, 1), got {self.quantile}")
        if self.merge_gap_h < 0 or self.setpoint_transient_h < 0:
            raise ValueError("anomaly threshold merge_gap_h and setpoint_transient_h must be >= 0")


@dataclass
class AutoencoderConfig:
    """Recurrent encoder-decoder on windows of the preprocessed signals.

    Attributes:
        cell: ``gru`` or ``lstm``.
        window_h: rows per window (hourly data: hours); the score at row t uses the window
            of rows t-window+1..t.
        hidden_size, latent_size, num_layers, dropout: network size (latent = bottleneck).
        score_roles: roles of the variables reconstructed and scored; the other inputs
            (set points, static, clock, assay masks and ages) only condition the network.
        exclude: canonical variables neither fed in nor scored.
        train_stride: hours between the ends of consecutive training windows.
        max_epochs, batch_size, lr, weight_decay: optimisation.
        input_noise: standard deviation (scaled units) of Gaussian noise added to the
            inputs during training, targets clean (a denoising autoencoder); 0 = none.
        score_top_k: the score is the mean of the k largest normalised variable errors of
            a row (0 = the mean over all scored variables).
        err_norm: per-hour error scale of each variable on the training batches: ``mean``
            (mean squared error) or ``median`` (robust to a few unusual batches).
        step_window_h: hours after a set-point step (the temperature shift) over which
            each variable's error is divided by how much normal steps raise it on the
            training batches (:mod:`~forecaster.anomaly.step_scale`); 0 = off.
        threshold: its alarm threshold (``anomaly.autoencoder.threshold``; before format 2
            of the detector this was ``anomaly.threshold``, still accepted).
    """

    cell: str = "gru"
    window_h: int = 12
    hidden_size: int = 48
    latent_size: int = 12
    num_layers: int = 1
    dropout: float = 0.0
    score_roles: list[str] = field(default_factory=lambda: ["online", "control", "offline"])
    exclude: list[str] = field(default_factory=list)
    train_stride: int = 2
    max_epochs: int = 15
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-5
    input_noise: float = 0.0
    score_top_k: int = 2
    err_norm: str = "mean"
    step_window_h: float = 24.0
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)

    def __post_init__(self) -> None:
        if isinstance(self.threshold, dict):
            self.threshold = ThresholdConfig(**self.threshold)
        if self.err_norm not in ERR_NORMS:
            raise ValueError(
                f"anomaly.autoencoder.err_norm: {self.err_norm!r}; expected one of {ERR_NORMS}"
            )
        if min(self.score_top_k, self.input_noise, self.step_window_h) < 0:
            raise ValueError(
                "anomaly.autoencoder.score_top_k, input_noise and step_window_h must be >= 0"
            )
        if self.cell not in CELLS:
            raise ValueError(f"anomaly.autoencoder.cell: {self.cell!r}; expected one of {CELLS}")
        bad = [r for r in self.score_roles if r not in SCORE_ROLES]
        if bad:
            raise ValueError(
                f"anomaly.autoencoder.score_roles: unknown {bad}; expected {SCORE_ROLES}"
            )
        if self.window_h < 2:
            raise ValueError(f"anomaly.autoencoder.window_h must be >= 2, got {self.window_h}")


@dataclass
class RulesConfig:
    """Day-one checks an engineer would write; each threshold is reported with its alarm.

    Attributes:
        enabled: evaluate the rules.
        do_floor_pct, do_floor_duration_h: DO below this (% air saturation) for this long.
        ph_band, ph_duration_h: |pH - set point| above this for this long.
        glucose_starvation_g_L: a glucose assay below this (cells starve below ~0.5 g/L).
        temperature_tolerance_C, temperature_duration_h: |T - set point| above this for this long.
        setpoint_settle_h: band and spike checks of a variable pause this long after its set
            point changes (the temperature shift takes about an hour to settle).
        startup_h: band and spike checks start this many hours after inoculation (DO and
            pH settle from their initial values).
        vcd_drop_frac: a VCD assay below (1 - frac) x the highest assay of the last
            ``drop_lookback_h`` hours (normal day-to-day falls stay under ~27 %).
        viability_drop_pct: a viability assay this many points below that reference (normal
            late-run decline stays under ~9 points a day).
        drop_lookback_h: reference window of the VCD / viability drop checks.
        stuck_variables, stuck_duration_h, stuck_tolerance: an online reading that moves by
            no more than ``stuck_tolerance`` (in its unit) for this long (real probes
            are noisy, so a flat line is a frozen transmitter). Raise the duration for data
            from a historian that stores only changes (repeated values are normal there).
        spike_limits: jump of a reading (of its deviation from set point where there is
            one) from the median of the previous ``spike_context_h`` rows, per variable.
        spike_return_rows: for a reading without a set-point column, a jump is a spike only
            if the reading comes back within this many rows (so a planned set-point change,
            a lasting step, is not a spike); the alarm is raised when it comes back.
        feed_check_h, feed_reference_h, feed_volume_sd_mL, feed_z, feed_missing_frac:
            feed-pump mass balance (``mass_balance.py``): for a pump that stopped at any
            time within the last ``feed_check_h`` hours, the share of the logged feed and
            base missing from the volume, against the mean volume balance over the
            ``feed_reference_h`` hours before; it alarms when that share is at least
            ``feed_missing_frac`` and ``feed_z`` standard errors above 0. The volume noise
            sd is estimated on the reference hours, but taken as at least
            ``feed_volume_sd_mL`` (mL; the simulator's reading noise is 5 mL).
        feed_missing_mL: no longer used (the 24-h balance with a fixed mL limit it set was
            replaced by the test above); kept so older configs and run folders load.
        consistency: run the controller-consistency checks (``consistency.py``), fitted on
            the good training batches.
        cusum_k, cusum_window_h: CUSUM allowance (in residual sd) and the rows it looks
            back (pH-controller mismatch, DO shift).
        drift_k: allowance (residual sd) of a second CUSUM on the same residuals, tuned to
            a reading that ramps away (``ph_drift``, ``do_drift``): it alarms about an hour
            after a drift leaves the noise, where the ``cusum_k`` one needs two to four;
            0 = off.
        demand_window_h: window of the oxygen-demand rise.
        consistency_margin: each check alarms above this factor x the highest value of its
            statistic on the good training batches (CUSUM, demand rise, base rate).
        clear_steps: rows without violation that end a rule's event.
        merge_gap_h: an alarm of a rule raised less than this many hours after that rule's
            previous event in the batch ended continues that event (0 = off).
        auto_off_share: at training time every rule is run over the fault-free training
            batches; a rule that raises an alarm on more than this share of them, and
            significantly so (one firing among a handful of batches is chance), is
            switched off (``rule_profile.py``), and the report says so.
        force_on: rules kept on although they fire that often (e.g. ``[spike_temperature_C]``).
        incident_gap_h: alarm events of one batch (any detector) that overlap or lie within
            this many hours of each other form one incident (``incidents.py``).
        variables: ``{rule part: process column}`` for parts the process definition does not
            say by itself (``rule_vars.py``), e.g. ``{glucose_g_L: substrate_g_L}`` to run
            the starvation check on another substrate (with its ``glucose_starvation_g_L``).
    """

    enabled: bool = True
    do_floor_pct: float = 15.0
    do_floor_duration_h: float = 1.0
    ph_band: float = 0.2
    ph_duration_h: float = 1.0
    glucose_starvation_g_L: float = 0.5
    temperature_tolerance_C: float = 1.0
    temperature_duration_h: float = 0.0
    setpoint_settle_h: float = 4.0
    startup_h: float = 12.0
    vcd_drop_frac: float = 0.35
    viability_drop_pct: float = 12.0
    drop_lookback_h: float = 24.0
    stuck_variables: list[str] = field(default_factory=lambda: ["do_pct", "ph", "temperature_C"])
    stuck_duration_h: float = 1.0
    stuck_tolerance: float = 1e-6
    spike_limits: dict[str, float] = field(
        default_factory=lambda: {"do_pct": 15.0, "ph": 0.15, "temperature_C": 1.0}
    )
    spike_context_h: int = 6
    spike_return_rows: int = 2
    feed_check_h: float = 24.0
    feed_reference_h: float = 48.0
    feed_volume_sd_mL: float = 5.0
    feed_z: float = 5.0
    feed_missing_frac: float = 0.5
    feed_missing_mL: float = 20.0
    consistency: bool = True
    cusum_k: float = 0.5
    cusum_window_h: float = 24.0
    drift_k: float = 1.0
    demand_window_h: float = 3.0
    consistency_margin: float = 1.25
    clear_steps: int = 3
    merge_gap_h: float = MERGE_GAP_H
    auto_off_share: float = 0.05
    force_on: list[str] = field(default_factory=list)
    incident_gap_h: float = 12.0
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.auto_off_share <= 1.0:
            raise ValueError(
                f"anomaly.rules.auto_off_share must be in [0, 1], got {self.auto_off_share}"
            )
        if self.drift_k < 0 or self.cusum_k < 0:
            raise ValueError(
                f"anomaly.rules.cusum_k and drift_k must be >= 0, got {self.cusum_k}, {self.drift_k}"
            )
        if self.incident_gap_h < 0:
            raise ValueError(
                f"anomaly.rules.incident_gap_h must be >= 0, got {self.incident_gap_h}"
            )


@dataclass
class PCAConfig:
    """PCA monitor (Hotelling T^2 and SPE) on time-wise standardised signals.

    Attributes:
        enabled: fit and evaluate the monitor.
        explained_variance: components kept until this share of variance is explained.
        max_components: upper bound on the number of components.
        alpha: confidence level of the control limits.
        smooth_h: half-width (hours) of the window that smooths the per-hour reference mean
            and standard deviation of the good batches.
        threshold: its alarm threshold (``anomaly.pca.threshold``): by default two steps
            above the calibrated value raise an alarm, with no margin.
        persistence_steps, clear_steps, margin: old place of these three threshold
            settings (before format 2), still accepted: moved into ``threshold``.
    """

    enabled: bool = True
    explained_variance: float = 0.9
    max_components: int = 10
    alpha: float = 0.999
    smooth_h: int = 3
    threshold: ThresholdConfig = field(default_factory=lambda: ThresholdConfig(**PCA_THRESHOLD))
    persistence_steps: int | None = None
    clear_steps: int | None = None
    margin: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threshold, dict):
            self.threshold = ThresholdConfig(**{**PCA_THRESHOLD, **self.threshold})
        old = {k: getattr(self, k) for k in PCA_THRESHOLD if getattr(self, k) is not None}
        if old:
            _moved(f"anomaly.pca.{{{','.join(old)}}}", "anomaly.pca.threshold")
            self.threshold = ThresholdConfig(**{**asdict(self.threshold), **old})
            for k in old:
                setattr(self, k, None)


@dataclass
class EvalConfig:
    """Event-level evaluation against the simulator's fault labels.

    Attributes:
        grace_h: an alarm raised up to this long after a fault ended still counts.
        max_figures: at most this many per-batch figures (test batches with an alarm).
    """

    grace_h: float = 24.0
    max_figures: int = 60


MODES = ("auto", "out_of_fold", "holdout")


@dataclass
class CalibrationConfig:
    """How thresholds are calibrated (``anomaly.calibration``).

    Attributes:
        mode: ``auto``, ``out_of_fold`` or ``holdout`` (see ``oof.py``).
        folds: folds of the out-of-fold calibration (fewer when there are fewer batches).
        auto_below_batches: ``auto`` goes out-of-fold below this many training batches.
    """

    mode: str = "auto"
    folds: int = 5
    auto_below_batches: int = 200

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"anomaly.calibration.mode must be one of {MODES}, got {self.mode!r}")
        if int(self.folds) != self.folds or self.folds < 2:
            raise ValueError(
                f"anomaly.calibration.folds must be a whole number >= 2, got {self.folds}"
            )


@dataclass
class AnomalyConfig:
    """The ``anomaly:`` section: scorers (autoencoder, PCA baseline, any registered one),
    rules and evaluation.

    Attributes:
        autoencoder, pca: the built-in scorers' sections (each with its ``threshold``).
        scorers: sections of further registered scorers, ``{name: {key: value}}`` (see
            :mod:`forecaster.anomaly.registry`); each becomes its scorer's config class.
        threshold: old place of the autoencoder's threshold (before format 2), still
            accepted: it moves into ``autoencoder.threshold`` and its shared settings
            (method, target rate, quantile, ``merge_gap_h``, ``setpoint_transient_h``) into
            ``pca.threshold``, as they applied to the PCA monitor then.
        calibration: out-of-fold or hold-out threshold calibration (``oof.py``).
    """

    enabled: bool = True
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    pca: PCAConfig = field(default_factory=PCAConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    scorers: dict[str, Any] = field(default_factory=dict)
    threshold: ThresholdConfig | None = None
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)

    def __post_init__(self) -> None:
        # Accept plain dicts (from YAML) for the nested sections; unknown keys raise TypeError.
        sections = {"autoencoder": AutoencoderConfig, "rules": RulesConfig, "pca": PCAConfig,
                    "eval": EvalConfig, "calibration": CalibrationConfig}  # fmt: skip
        for name, cls in sections.items():
            val = getattr(self, name)
            if isinstance(val, dict):
                setattr(self, name, cls(**val))
        if self.threshold is not None:
            old = self.threshold
            old = asdict(ThresholdConfig(**old) if isinstance(old, dict) else old)
            _moved("anomaly.threshold", "anomaly.autoencoder.threshold (and anomaly.pca.threshold)")
            self.autoencoder.threshold = ThresholdConfig(**old)
            own = {k: getattr(self.pca.threshold, k) for k in PCA_THRESHOLD}
            self.pca.threshold = ThresholdConfig(**{**old, **own})
            self.threshold = None
        for name, val in list(self.scorers.items()):
            if name not in SCORER_SECTIONS:
                raise ValueError(
                    f"anomaly.scorers.{name}: no scorer of that name is registered "
                    f"(registered: {list(SCORER_SECTIONS)}; see forecaster.anomaly.registry)"
                )
            cls = SCORER_SECTIONS[name]
            self.scorers[name] = cls(**val) if isinstance(val, dict) else val

    def scorer_sections(self) -> dict[str, Any]:
        """``{scorer name: config section}`` of every scorer, in the order they are fitted
        (the first is the primary one, alarmed on with the rules by default)."""
        return {"autoencoder": self.autoencoder, "pca": self.pca, **self.scorers}


def _moved(old: str, new: str) -> None:
    warnings.warn(
        f"config key {old} has moved to {new}; the old key still works but will be removed",
        DeprecationWarning,
        stacklevel=4,
    )
