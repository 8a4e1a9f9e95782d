"""The "no flow" posterior: a diagonal Gaussian, z_K = z_0, log-determinant 0."""
from __future__ import annotations

import torch
from torch import nn


class IdentityFlow(nn.Module):
    """Leaves samples unchanged; exists so that every VAE row is built the same way."""

    def __init__(self, *, latent_dim: int, context_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.context_dim = context_dim

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return z, z.new_zeros(z.shape[0])
