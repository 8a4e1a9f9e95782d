"""Amortized planar flow (Rezende & Mohamed 2015, §4.1 and App. A; as used by Berg et al. 2018).

Each of the K steps maps

    z' = z + û · tanh(wᵀz + b),          u, w ∈ R^D, b ∈ R,

with u, w and b computed per sample from the encoder features by linear heads. The map is
invertible iff wᵀû ≥ −1 (R&M 2015, App. A.1), which is enforced by the reparameterisation

    û = u + (m(wᵀu) − wᵀu) · w / ‖w‖²,   m(a) = −1 + softplus(a),

so that wᵀû = m(wᵀu) > −1. The Jacobian is I + û ψᵀ with ψ = (1 − tanh²(wᵀz + b)) · w, hence
by the matrix determinant lemma

    log |det ∂z'/∂z| = log |1 + ûᵀψ|.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PlanarFlow(nn.Module):
    """K amortized planar steps; ``forward(z, context)`` returns ``(z_K, Σ log|det|)``.

    Heads (one Linear each from the context, all K steps at once): u (K·D), w (K·D), b (K).
    ``eps`` only guards divisions by ‖w‖² and the log against exact zeros.
    """

    def __init__(self, *, latent_dim: int, context_dim: int, num_flows: int = 4, eps: float = 1e-12) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        self.num_flows = num_flows
        self.eps = eps
        self.amortize_u = nn.Linear(context_dim, num_flows * latent_dim)
        self.amortize_w = nn.Linear(context_dim, num_flows * latent_dim)
        self.amortize_b = nn.Linear(context_dim, num_flows)

    def amortize(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample ``(û, w, b)`` of shapes (B, K, D), (B, K, D), (B, K), with wᵀû > −1."""
        shape = (context.shape[0], self.num_flows, self.latent_dim)
        u = self.amortize_u(context).view(shape)
        w = self.amortize_w(context).view(shape)
        b = self.amortize_b(context)
        wu = (w * u).sum(-1, keepdim=True)
        w_norm_sq = (w * w).sum(-1, keepdim=True).clamp_min(self.eps)
        u_hat = u + (-1.0 + F.softplus(wu) - wu) * w / w_norm_sq
        return u_hat, w, b

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u_hat, w, b = self.amortize(context)
        log_det = z.new_zeros(z.shape[0])
        for k in range(self.num_flows):
            activation = torch.tanh((w[:, k] * z).sum(-1) + b[:, k])  # (B,)
            psi = (1.0 - activation**2).unsqueeze(-1) * w[:, k]  # (B, D)
            det = 1.0 + (u_hat[:, k] * psi).sum(-1)
            log_det = log_det + det.abs().clamp_min(self.eps).log()
            z = z + u_hat[:, k] * activation.unsqueeze(-1)
        return z, log_det
