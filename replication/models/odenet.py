"""ODE-Net and RK-Net: the six residual blocks replaced by one ODE solve over t ∈ [0, 1]."""
from __future__ import annotations

import torch
from torch import nn

from replication.models.blocks import Downsampling, downsampling, head, norm
from replication.ode import CountedFunction, integrate
from replication.ode.solve import GradientMode


class ConcatConv2d(nn.Module):
    """3×3 convolution whose input is prefixed with a constant channel holding t."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 1, out_channels, 3, padding=1)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        time_channel = torch.ones_like(x[:, :1]) * t
        return self.conv(torch.cat([time_channel, x], dim=1))


class ConvDynamics(nn.Module):
    """f(t, h) = GN(conv_t(ReLU(GN(conv_t(ReLU(GN(h))))))), time-dependent, no residual."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm1 = norm(width)
        self.conv1 = ConcatConv2d(width, width)
        self.norm2 = norm(width)
        self.conv2 = ConcatConv2d(width, width)
        self.norm3 = norm(width)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        out = self.conv1(t, torch.relu(self.norm1(h)))
        out = self.conv2(t, torch.relu(self.norm2(out)))
        return self.norm3(out)


class ODEBlock(nn.Module):
    """h(1) = h(0) + ∫₀¹ f(t, h(t)) dt, solved adaptively; counts NFE."""

    def __init__(
        self, dynamics: nn.Module, *, method: str, rtol: float, atol: float, gradient: GradientMode
    ) -> None:
        super().__init__()
        self.func = CountedFunction(dynamics)
        self.method, self.rtol, self.atol, self.gradient = method, rtol, atol, gradient
        self.register_buffer("span", torch.tensor([0.0, 1.0]), persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        trajectory = integrate(
            self.func, h, self.span.to(h), method=self.method, rtol=self.rtol, atol=self.atol,
            gradient=self.gradient,
        )
        return trajectory[-1]


def _ode_network(
    *, gradient: GradientMode, downsampling_kind: Downsampling, width: int, method: str,
    rtol: float, atol: float,
) -> nn.Sequential:
    return nn.Sequential(
        downsampling(downsampling_kind, width=width),
        ODEBlock(ConvDynamics(width), method=method, rtol=rtol, atol=atol, gradient=gradient),
        head(width=width),
    )


def odenet(
    *, downsampling: Downsampling = "res", width: int = 64, method: str = "dopri5",
    rtol: float = 1e-3, atol: float = 1e-3,
) -> nn.Sequential:
    """ODE-Net: gradients by the adjoint method (the paper's O(1)-memory setting)."""
    return _ode_network(
        gradient="adjoint", downsampling_kind=downsampling, width=width, method=method,
        rtol=rtol, atol=atol,
    )


def rknet(
    *, downsampling: Downsampling = "res", width: int = 64, method: str = "dopri5",
    rtol: float = 1e-3, atol: float = 1e-3,
) -> nn.Sequential:
    """RK-Net: the ODE-Net's architecture, gradients backpropagated through the RK solver."""
    return _ode_network(
        gradient="backprop", downsampling_kind=downsampling, width=width, method=method,
        rtol=rtol, atol=atol,
    )
