"""The 1-layer MLP of Table 1 (LeCun et al. 1998's 784-300-10 network)."""
from __future__ import annotations

from torch import nn


def mlp(*, hidden: int = 300, classes: int = 10) -> nn.Sequential:
    """784 → hidden (ReLU) → classes; 238,510 parameters at the defaults."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )
