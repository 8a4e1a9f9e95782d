"""Deterministic randomness: one seed per run, one generator per epoch."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator for the data order and augmentation of one epoch.

    Derived from (seed, epoch) alone, so an epoch replays identically whether the
    run went through uninterrupted or was resumed from a checkpoint.
    """
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)
