"""The planar CNF of Neural ODE §4.1 and App. A.1 (Figures 4 and 5; spec §8.2–8.3).

Dynamics with M hidden units ("width"), every parameter a function of time:

    dz/dt = f(t, z) = Σ_n σ_n(t) u_n(t) h(w_n(t)ᵀ z + b_n(t)),     h = tanh,

where (w_n, u_n, b_n, σ_n) come from t through a small hypernetwork and σ_n(t) ∈ (0, 1) is the
unit's gate (a sigmoid). The Jacobian is Σ_n σ_n h'(·) u_n w_nᵀ, so its trace is exact and
linear in M (the paper's point against planar NFs, whose log-det is per layer):

    tr ∂f/∂z = Σ_n σ_n(t) (u_nᵀ w_n) h'(w_nᵀ z + b_n).

Where the paper is silent, the choices (keywords): the hypernetwork is 1 → H → H → M(2D + 2)
with tanh between layers and H = 32 (the size in torchdiffeq's ``cnf.py``, spec §8.3); the gate
is one scalar per unit (the paper's σ_n(t); torchdiffeq gates every coordinate of u_n); the units
are **summed** (the paper's Σ; torchdiffeq averages them). Parameters at D = 2, H = 32:
64 + 1,056 + 33·M·6 (M = 64: 13,792; torchdiffeq's variant: 15,904).
"""
from __future__ import annotations

import torch
from torch import nn


class PlanarCNFDynamics(nn.Module):
    """f(t, z) and its exact trace for a batch z (B, D); ``forward(t, z)`` is f alone."""

    def __init__(self, *, dim: int = 2, width: int, hyper_hidden: int = 32) -> None:
        super().__init__()
        if width < 1 or dim < 1 or hyper_hidden < 1:
            raise ValueError("dim, width and hyper_hidden must be >= 1, "
                             f"got {dim}, {width}, {hyper_hidden}")
        self.dim, self.width = dim, width
        self.hyper = nn.Sequential(nn.Linear(1, hyper_hidden), nn.Tanh(),
                                   nn.Linear(hyper_hidden, hyper_hidden), nn.Tanh(),
                                   nn.Linear(hyper_hidden, width * (2 * dim + 2)))

    def unit_parameters(self, t: torch.Tensor):
        """(w (M, D), u (M, D), b (M,), gate σ (M,)) at time t."""
        time = t.reshape(1, 1).to(self.hyper[0].weight.dtype)
        out = self.hyper(time).reshape(self.width, 2 * self.dim + 2)
        w, u = out[:, : self.dim], out[:, self.dim: 2 * self.dim]
        b, gate = out[:, 2 * self.dim], torch.sigmoid(out[:, 2 * self.dim + 1])
        return w, u, b, gate

    def velocity_and_trace(self, t: torch.Tensor,
                           z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, u, b, gate = self.unit_parameters(t)
        activation = torch.tanh(z @ w.T + b)  # (B, M)
        velocity = (activation * gate) @ u  # Σ_n σ_n u_n h(·), (B, D)
        slope = 1.0 - activation**2  # h'(·)
        trace = slope @ (gate * (u * w).sum(-1))  # Σ_n σ_n (u_nᵀ w_n) h'(·), (B,)
        return velocity, trace

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.velocity_and_trace(t, z)[0]


__all__ = ["PlanarCNFDynamics"]
