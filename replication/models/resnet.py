"""ResNet baseline of Table 1 and the two ablations users asked for (spec §5 items 1–3)."""
from __future__ import annotations

from torch import nn

from replication.models.blocks import Downsampling, ResBlock, downsampling, head


def _residual_network(blocks: int, *, downsampling_kind: Downsampling, width: int) -> nn.Sequential:
    return nn.Sequential(
        downsampling(downsampling_kind, width=width),
        *(ResBlock(width) for _ in range(blocks)),
        head(width=width),
    )


def resnet(*, blocks: int = 6, downsampling: Downsampling = "res", width: int = 64) -> nn.Sequential:
    """Downsampling, ``blocks`` residual blocks, head (601,482 parameters with "res")."""
    return _residual_network(blocks, downsampling_kind=downsampling, width=width)


def resnet1(*, downsampling: Downsampling = "res", width: int = 64) -> nn.Sequential:
    """Ablation: a single residual block in the feature stage (torchdiffeq issue #25)."""
    return _residual_network(1, downsampling_kind=downsampling, width=width)


def stem(*, downsampling: Downsampling = "res", width: int = 64) -> nn.Sequential:
    """Ablation: downsampling and head only, no feature stage (torchdiffeq issue #32)."""
    return _residual_network(0, downsampling_kind=downsampling, width=width)
