"""A planar normalizing flow with its own (non-amortized) parameters: the NF of Neural ODE §4.1.

Rezende & Mohamed (2015) eq. 7, K layers, each

    y = z + û h(wᵀz + b),   h = tanh,   log|det ∂y/∂z| = log|1 + ûᵀψ|,   ψ = h'(wᵀz + b) w,

with the invertibility reparameterisation û = u + (m(wᵀu) − wᵀu) w/‖w‖², m(a) = −1 + softplus(a)
(R&M App. A.1), as in :mod:`replication.flows.planar`. That module's flow is amortized (its
u, w, b come from a VAE encoder's features) and sits in the VAE flow registry; this one holds
u, w, b as parameters, which is what density matching (Figure 4) and maximum likelihood
(Figure 5) need, so it is a separate module and not registered there.

Directions. ``forward`` maps z ↦ y through layers 1…K and returns ``(y, Σ log|det|)``.
``inverse`` undoes it exactly: each layer reduces to the scalar equation
a + c·h(a + b) = wᵀy for a = wᵀz, with c = wᵀû > −1, whose left side is strictly increasing,
and |a − wᵀy| ≤ |c|; it is solved by bisection to float resolution, then z = y − û h(a + b).
For density matching, samples are y = forward(z₀), z₀ ~ N(0, I). For maximum likelihood the
density of data x needs the inverse direction, which has no closed form; there the flow is
used the other way round (x ↦ z = forward(x), log q(x) = log N(z) + Σ log|det|) and sampling
uses ``inverse``. Which direction the paper's NF used is not stated; this is our choice.

Initialisation (unstated in both papers): u, w ~ N(0, init_std²), b = 0, init_std = 0.1 (so the
flow starts near the identity). Parameters: K(2D + 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PlanarNF(nn.Module):
    """K planar layers on ℝᴰ; see the module notes."""

    def __init__(self, *, dim: int = 2, num_layers: int, init_std: float = 0.1,
                 generator: torch.Generator | None = None, eps: float = 1e-12) -> None:
        super().__init__()
        if num_layers < 1 or dim < 1:
            raise ValueError(f"num_layers and dim must be >= 1, got {num_layers}, {dim}")
        self.eps = eps
        self.u = nn.Parameter(init_std * torch.randn(num_layers, dim, generator=generator))
        self.w = nn.Parameter(init_std * torch.randn(num_layers, dim, generator=generator))
        self.b = nn.Parameter(torch.zeros(num_layers))

    @property
    def num_layers(self) -> int:
        return self.b.shape[0]

    def u_hat(self) -> torch.Tensor:
        """û per layer, (K, D), with wᵀû = −1 + softplus(wᵀu) > −1."""
        wu = (self.w * self.u).sum(-1, keepdim=True)
        w_norm_sq = (self.w * self.w).sum(-1, keepdim=True).clamp_min(self.eps)
        return self.u + (-1.0 + F.softplus(wu) - wu) * self.w / w_norm_sq

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u_hat = self.u_hat()
        log_det = z.new_zeros(z.shape[0])
        for k in range(self.num_layers):
            activation = torch.tanh(z @ self.w[k] + self.b[k])  # (B,)
            det = 1.0 + (1.0 - activation**2) * (self.w[k] @ u_hat[k])
            log_det = log_det + det.abs().clamp_min(self.eps).log()
            z = z + activation.unsqueeze(-1) * u_hat[k]
        return z, log_det

    @torch.no_grad()
    def inverse(self, y: torch.Tensor, *, iterations: int = 200) -> torch.Tensor:
        """z with forward(z)[0] = y, by exact per-layer bisection (see the module notes)."""
        u_hat = self.u_hat()
        for k in reversed(range(self.num_layers)):
            w, b, u = self.w[k], self.b[k], u_hat[k]
            c, target = w @ u, y @ w  # scalar, (B,)
            low, high = target - c.abs() - 1.0, target + c.abs() + 1.0
            for _ in range(iterations):
                middle = 0.5 * (low + high)
                above = middle + c * torch.tanh(middle + b) > target
                high = torch.where(above, middle, high)
                low = torch.where(above, low, middle)
            a = 0.5 * (low + high)
            y = y - torch.tanh(a + b).unsqueeze(-1) * u
        return y


__all__ = ["PlanarNF"]
