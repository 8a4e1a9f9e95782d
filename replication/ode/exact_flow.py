"""Continuous normalizing flows whose dynamics return their own exact Jacobian trace.

A CNF carries z along dz/dt = f(t, z) and, by the instantaneous change of variables (Neural ODE
Thm. 1), d log p(z(t))/dt = −tr(∂f/∂z). With ``a(t) = ∫_{t₀}^{t} tr(∂f/∂z(s)) ds`` solved
alongside z (the augmented state (z, a), a(t₀) = 0),

    log p_{t₁}(z(t₁)) = log p_{t₀}(z(t₀)) − a(t₁),

for t₁ after or before t₀ alike (a is a signed integral). Dynamics passed here implement
``velocity_and_trace(t, z) -> (f (B, D), tr (B,))`` in closed form, so no autograd is needed to
take the trace (the planar CNF's trace costs O(M), spec §8.2) and the adjoint's augmented
dynamics differentiate one ordinary function.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from replication.ode.counting import CountedFunction
from replication.ode.solve import GradientMode, integrate


class _Augmented(nn.Module):
    """(z, a) ↦ (f(t, z), tr ∂f/∂z(t, z)) for a dynamics module with ``velocity_and_trace``."""

    def __init__(self, dynamics: nn.Module) -> None:
        super().__init__()
        self.dynamics = dynamics

    def forward(self, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        z, _ = state
        return self.dynamics.velocity_and_trace(t, z)


class ExactTraceFlow(nn.Module):
    """Solves (z, a) from t₀ to t₁; ``forward(z, t0=, t1=)`` returns ``(z(t₁), a(t₁))``.

    The augmented dynamics are wrapped in a :class:`~replication.ode.CountedFunction` so an
    :class:`~replication.ode.NFECounter` sees the evaluations (NFE-F and, with the adjoint, NFE-B).
    """

    def __init__(self, dynamics: nn.Module, *, method: str = "dopri5", rtol: float = 1e-5,
                 atol: float = 1e-5, gradient: GradientMode = "adjoint") -> None:
        super().__init__()
        if not hasattr(dynamics, "velocity_and_trace"):
            raise TypeError(f"{type(dynamics).__name__} has no velocity_and_trace(t, z) method")
        self.dynamics = dynamics
        self.func = CountedFunction(_Augmented(dynamics))
        self.solver = {"method": method, "rtol": rtol, "atol": atol, "gradient": gradient}

    def forward(self, z: torch.Tensor, *, t0: float, t1: float,
                times: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z(t₁) and a(t₁) = ∫_{t₀}^{t₁} tr dt; with ``times`` (from t₀), every time's values."""
        grid = (times if times is not None
                else torch.tensor([t0, t1], dtype=z.dtype, device=z.device))
        if times is not None and (float(grid[0]) != t0 or float(grid[-1]) != t1):
            raise ValueError(f"times must run from t0 = {t0} to t1 = {t1}, "
                             f"got {float(grid[0])} … {float(grid[-1])}")
        state = (z, z.new_zeros(z.shape[0]))
        zs, traces = integrate(self.func, state, grid, **self.solver)
        if times is not None:
            return zs, traces
        return zs[-1], traces[-1]


def standard_normal_log_density(z: torch.Tensor, *, std: float = 1.0) -> torch.Tensor:
    """log N(z; 0, std² I) per row."""
    dim = z.shape[-1]
    return (-0.5 * (z / std) ** 2).sum(-1) - dim * (math.log(std) + 0.5 * math.log(2 * math.pi))


__all__ = ["ExactTraceFlow", "standard_normal_log_density"]
