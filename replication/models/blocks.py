"""Layers shared by the convolutional classifiers (torchdiffeq's MNIST example, spec §1.3)."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Downsampling = Literal["conv", "res"]


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with min(32, C) groups."""
    return nn.GroupNorm(min(32, channels), channels)


class ResBlock(nn.Module):
    """Pre-activation residual block: GN-ReLU-conv3×3-GN-ReLU-conv3×3 plus a shortcut.

    With ``stride > 1`` the shortcut is a bias-free 1×1 convolution of the same stride.
    """

    def __init__(self, channels: int, *, stride: int = 1) -> None:
        super().__init__()
        self.norm1 = norm(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.norm2 = norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.project = (
            nn.Conv2d(channels, channels, 1, stride=stride, bias=False) if stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm1(x))
        shortcut = x if self.project is None else self.project(out)
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.norm2(out)))
        return out + shortcut


def downsampling(kind: Downsampling, *, width: int) -> nn.Sequential:
    """The stem that maps 1×28×28 images to ``width`` channels at 6×6 ("conv") or 7×7 ("res")."""
    if kind == "conv":
        return nn.Sequential(
            nn.Conv2d(1, width, 3),
            norm(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 4, stride=2, padding=1),
            norm(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 4, stride=2, padding=1),
        )
    if kind == "res":
        return nn.Sequential(
            nn.Conv2d(1, width, 3),
            ResBlock(width, stride=2),
            ResBlock(width, stride=2),
        )
    raise ValueError(f"downsampling must be 'conv' or 'res', got {kind!r}")


def head(*, width: int, classes: int = 10) -> nn.Sequential:
    """GN-ReLU-global average pool-linear classifier."""
    return nn.Sequential(
        norm(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes)
    )
