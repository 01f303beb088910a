"""Sequence datasets: whole batches as feature arrays with per-step targets.

A causal network emits a prediction at every step, so one batch of ``T`` rows holds ``T``
training prefixes. Each epoch every batch is cut at a random prefix length (seeded by
``seed`` and the epoch number), so minibatches mix running-batch lengths and the loss sees
every prefix length; padding sits after each sequence's end and is masked out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from forecaster import schema
from forecaster.data import targets
from forecaster.data.features import Preprocessor

TITER_FLOOR = 1e-3


@dataclass(frozen=True)
class TargetScales:
    """Plain-value scaling of the targets (stored in the checkpoint).

    Feed is standardised. Titer is modelled as ``log(titer / titer_scale)`` when
    ``titer_log`` (the default): errors then count relative to the titer, as MAPE does,
    and a 5 % assay error weighs the same on day 2 as at harvest. Titers below
    ``TITER_FLOOR`` x scale (a few mg/L: the first day) are clipped there.
    """

    feed_mean: float
    feed_std: float
    titer_scale: float
    titer_log: bool = True

    def titer_to_model(self, titer_mg_L: np.ndarray | float) -> np.ndarray:
        y = np.asarray(titer_mg_L, dtype=float) / self.titer_scale
        return np.log(np.maximum(y, TITER_FLOOR)) if self.titer_log else y

    def titer_from_model(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        return (np.exp(z) if self.titer_log else z) * self.titer_scale

    @classmethod
    def fit(
        cls,
        table: pd.DataFrame,
        titer_log: bool = True,
        product: str = schema.TITER,
        feed: str | None = schema.FEED,
    ) -> TargetScales:
        """Scales of the process's product (harvest mean) and feed (0/1 without a feed)."""
        has_feed = feed is not None and feed in table
        feed = table[feed].to_numpy(dtype=float) if has_feed else np.zeros(0)
        feed = feed[np.isfinite(feed)]
        harvest = [targets.harvest_titer(g, product) for _, g in table.groupby(schema.BATCH_ID)]
        harvest = np.asarray([h for h in harvest if np.isfinite(h)])
        return cls(
            feed_mean=float(feed.mean()) if feed.size else 0.0,
            feed_std=float(feed.std()) if feed.size > 1 and feed.std() > 0 else 1.0,
            titer_scale=float(harvest.mean()) if harvest.size and harvest.mean() > 0 else 1.0,
            titer_log=titer_log,
        )

    def feed_from_model(self, z: np.ndarray) -> np.ndarray:
        """Scaled feed -> mL/h (negative rates are clipped to 0); keeps ``z``'s float dtype."""
        return np.maximum(np.asarray(z) * self.feed_std + self.feed_mean, 0.0)

    def state_dict(self) -> dict[str, float | bool]:
        """Plain values (saved inside the forecaster's ``model.pt``)."""
        return {
            "feed_mean": float(self.feed_mean),
            "feed_std": float(self.feed_std),
            "titer_scale": float(self.titer_scale),
            "titer_log": bool(self.titer_log),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping) -> TargetScales:
        """Inverse of :meth:`state_dict`."""
        return cls(
            feed_mean=float(state["feed_mean"]),
            feed_std=float(state["feed_std"]),
            titer_scale=float(state["titer_scale"]),
            titer_log=bool(state["titer_log"]),
        )

    def to_dict(self) -> dict[str, float | bool]:
        """Same as :meth:`state_dict` (the name the readable ``preprocessing.json`` used)."""
        return self.state_dict()


@dataclass
class BatchArrays:
    """One batch as arrays. ``x: (T, F)``; ``feed: (T,)`` scaled next feed (NaN = none);
    ``harvest``: scaled harvest titer (NaN if unknown); ``daily: (D,)`` scaled titer assays
    on days 1..D (NaN if not measured); ``time_h: (T,)``."""

    batch_id: str
    x: np.ndarray
    feed: np.ndarray
    harvest: float
    daily: np.ndarray
    time_h: np.ndarray


def batch_arrays(
    table: pd.DataFrame, prep: Preprocessor, scales: TargetScales, n_days: int
) -> list[BatchArrays]:
    """Features and targets of every batch in ``table`` (complete batches); the product and
    the feed are the ones ``prep`` was fitted for."""
    out = []
    for bid, g in table.groupby(schema.BATCH_ID, sort=True):
        g = g.sort_values(schema.TIME)
        out.append(
            BatchArrays(
                batch_id=str(bid),
                x=prep.transform_batch(g),
                feed=(
                    (targets.next_feed(g, prep.feed) - scales.feed_mean) / scales.feed_std
                ).astype(np.float32),
                harvest=float(scales.titer_to_model(targets.harvest_titer(g, prep.product))),
                daily=scales.titer_to_model(
                    targets.titer_by_day(g, n_days, product=prep.product)
                ).astype(np.float32),
                time_h=g[schema.TIME].to_numpy(dtype=np.float32),
            )
        )
    return out


class PrefixDataset(Dataset):
    """Batches cut at a random prefix length that changes every epoch.

    Args:
        items: the batches.
        min_len: shortest prefix (rows).
        random_prefix: cut at random lengths (training) or keep whole batches (validation).
        seed: base seed; the cut of item ``i`` in epoch ``e`` depends on ``(seed, e, i)`` only,
            so a resumed run sees the same cuts.
        repeats: each batch appears this many times per epoch, each time cut at its own
            prefix (index ``i`` is batch ``i % len(items)``), so an epoch of a few batches
            still holds several optimiser steps.
    """

    def __init__(
        self,
        items: Sequence[BatchArrays],
        min_len: int = 24,
        random_prefix: bool = True,
        seed: int = 0,
        repeats: int = 1,
    ) -> None:
        self.items = list(items)
        self.repeats = max(1, int(repeats))
        self.min_len = min_len
        self.random_prefix = random_prefix
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items) * self.repeats

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        it = self.items[i % len(self.items)]
        n = len(it.time_h)
        length = n
        if self.random_prefix and n > self.min_len:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            # half the time keep the whole batch, otherwise a uniform cut
            if rng.random() < 0.5:
                length = int(rng.integers(self.min_len, n + 1))
        return {
            "x": torch.from_numpy(it.x[:length]),
            "feed": torch.from_numpy(it.feed[:length]),
            "harvest": torch.tensor(it.harvest, dtype=torch.float32),
            "daily": torch.from_numpy(it.daily),
            "time_h": torch.from_numpy(it.time_h[:length]),
            "length": torch.tensor(length),
        }


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad to the longest prefix; ``mask: (B, T)`` marks valid steps."""
    lengths = torch.stack([it["length"] for it in items])
    t_max = int(lengths.max())
    b = len(items)
    f = items[0]["x"].shape[1]
    x = torch.zeros(b, t_max, f)
    feed = torch.full((b, t_max), float("nan"))
    time_h = torch.zeros(b, t_max)
    for k, it in enumerate(items):
        n = int(it["length"])
        x[k, :n], feed[k, :n], time_h[k, :n] = it["x"], it["feed"], it["time_h"]
    mask = torch.arange(t_max)[None, :] < lengths[:, None]
    return {
        "x": x,
        "feed": feed,
        "time_h": time_h,
        "mask": mask,
        "lengths": lengths,
        "harvest": torch.stack([it["harvest"] for it in items]),
        "daily": torch.stack([it["daily"] for it in items]),
    }


class EpochShuffleSampler(Sampler[int]):
    """Shuffles with a permutation that depends only on ``(seed, epoch)`` (resumable).

    Lightning calls ``set_epoch`` on the sampler each epoch; the dataset's cuts follow.
    """

    def __init__(self, dataset: PrefixDataset, seed: int = 0, shuffle: bool = True) -> None:
        self.dataset, self.seed, self.shuffle, self.epoch = dataset, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if not self.shuffle:
            return iter(range(n))
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(n).tolist())
