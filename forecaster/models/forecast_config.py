"""Settings of the sequence forecaster (the ``model:`` section of a run config).

Kept apart from the LightningModule so that reading a config or loading a run folder does
not import Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ForecastConfig:
    """Sequence model and its optimisation (the ``model:`` section of a run config).

    Attributes:
        cell: ``gru`` or ``lstm``.
        hidden_size, num_layers, dropout: encoder size.
        quantiles: predicted quantiles; 0.1/0.9 give the 80 % interval.
        n_days: length of the daily titer grid the trajectory head predicts (days 1..n_days).
        titer_log: model titer in log space (relative errors, like MAPE) instead of linear.
        anchor_titer: titer heads predict the growth from the last measured titer (see
            ``ForecastNet``'s ``anchor``) rather than the titer itself.
        exclude_inputs: canonical variables kept out of the inputs. The feed rate is the
            recommendation target: feeding it in lets the model copy the last command
            instead of learning the operator's rule from the culture state.
        log_inputs: inputs standardised on a log scale (relative changes matter early on).
        history_inputs, history_lags: assays whose earlier values are inputs too (the
            ``history_lags`` assays before the latest; see ``Preprocessor``): the net sees the
            titer and VCD growth curves instead of remembering them through hourly steps.
            ``history_lags: 0`` turns this off.
        linear_skip: a linear path from the inputs to the titer heads (see ``ForecastNet``).
        lr, weight_decay, warmup_epochs: AdamW with linear warm-up then cosine decay.
        batch_size: batches (runs) per minibatch.
        min_prefix_h: shortest prefix (hours of data) used in training.
        loss_feed, loss_harvest, loss_trajectory: loss weights of the three heads.
    """

    cell: str = "gru"
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    quantiles: list[float] = (0.1, 0.5, 0.9)  # type: ignore[assignment]
    n_days: int = 16
    titer_log: bool = True
    anchor_titer: bool = True
    exclude_inputs: list[str] = ("feed_rate_mL_h",)  # type: ignore[assignment]
    log_inputs: list[str] = ("titer_mg_L", "vcd_1e6_cells_mL")  # type: ignore[assignment]
    history_inputs: list[str] = ("titer_mg_L", "vcd_1e6_cells_mL")  # type: ignore[assignment]
    history_lags: int = 13
    linear_skip: bool = True
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 2
    batch_size: int = 32
    min_prefix_h: float = 24.0
    loss_feed: float = 1.0
    loss_harvest: float = 1.0
    loss_trajectory: float = 0.5
