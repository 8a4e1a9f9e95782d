"""One entry point to the ODE solvers (torchdiffeq) with explicit gradient mode."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

GradientMode = Literal["adjoint", "backprop"]


def integrate(
    func: nn.Module,
    z0: torch.Tensor,
    t: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    gradient: GradientMode,
    options: dict | None = None,
) -> torch.Tensor:
    """Solve dz/dt = func(t, z) from ``t[0]``, returning z at every time in ``t``.

    ``gradient="adjoint"`` computes gradients by solving the adjoint ODE backwards
    in time (constant memory in the number of solver steps); ``"backprop"``
    differentiates through the solver's operations (memory grows with steps).
    """
    if gradient == "adjoint":
        return odeint_adjoint(func, z0, t, method=method, rtol=rtol, atol=atol, options=options)
    if gradient == "backprop":
        return odeint(func, z0, t, method=method, rtol=rtol, atol=atol, options=options)
    raise ValueError(f"gradient must be 'adjoint' or 'backprop', got {gradient!r}")
