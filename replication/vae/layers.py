"""Gated convolutions of the Berg et al. (2018) VAE (spec §3.2; FFJORD App. B.2).

A gated layer computes ``h(x) · σ(g(x))`` where ``h`` and ``g`` are two convolutions with
identical shapes and their own weights and biases; ``h`` has no activation (the reference
code's ``activation=None`` default). Such a layer therefore holds twice the parameters of a
plain convolution of the same shape.
"""
from __future__ import annotations

import torch
from torch import nn

Size2 = int | tuple[int, int]


class GatedConv2d(nn.Module):
    """``h(x) · σ(g(x))`` with ``h`` and ``g`` two ``nn.Conv2d`` of the same shape."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        *,
        stride: Size2 = 1,
        padding: Size2 = 0,
    ) -> None:
        super().__init__()
        self.h = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.g = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.g(x))


class GatedConvTranspose2d(nn.Module):
    """``h(x) · σ(g(x))`` with ``h`` and ``g`` two ``nn.ConvTranspose2d`` of the same shape."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2,
        *,
        stride: Size2 = 1,
        padding: Size2 = 0,
        output_padding: Size2 = 0,
    ) -> None:
        super().__init__()
        options = dict(stride=stride, padding=padding, output_padding=output_padding)
        self.h = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, **options)
        self.g = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, **options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.h(x) * torch.sigmoid(self.g(x))


__all__ = ["GatedConv2d", "GatedConvTranspose2d"]
