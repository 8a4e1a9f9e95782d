"""Inverse autoregressive flow with a context-conditioned MADE (Kingma et al. 2016; Berg et al. 2018).

Each of the K steps computes, from a MADE (Germain et al. 2015) with one hidden layer,

    h = ELU(W_in z + b_in + c),          c = Linear(context) (one projection shared by all steps),
    m = W_m h + b_m,   s = W_s h + b_s,  (masked so that m_i, s_i depend on z_{<i} only)
    z' = σ(s) ⊙ z + (1 − σ(s)) ⊙ m,

the numerically stable "LSTM-type" update of Kingma et al. 2016, §4 / Alg. 2. Because m and s
are autoregressive, ∂z'/∂z is lower triangular with diagonal σ(s), so

    log |det ∂z'/∂z| = Σ_i log σ(s_i)       (computed as logsigmoid: exact and never log 0).

The bias of s starts at ``forget_bias`` (default 1.0, the reference code's constant forget-gate
bias; Kingma et al. suggest +1 or +2) so that σ(s) starts towards 1 (σ(1) ≈ 0.73): each step
starts as a mild contraction towards m rather than a full replacement of z. Odd-numbered steps use the reversed variable order (the MADE sees z flipped and
its output is flipped back), so consecutive steps are triangular in opposite directions.
ELU follows Kingma et al. 2016 and the reference code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask of shape (out, in)."""

    def __init__(self, mask: torch.Tensor) -> None:
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(latent_dim: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Input→hidden and hidden→output masks making output i depend only on inputs j < i.

    Inputs and outputs have degrees 1..D; hidden unit k has degree d_k ∈ {1..D−1} (cycled).
    Hidden k sees input j iff d_k ≥ j; output i sees hidden k iff i > d_k.
    """
    degrees_io = torch.arange(1, latent_dim + 1)
    degrees_hidden = torch.arange(hidden) % max(latent_dim - 1, 1) + 1
    mask_in = (degrees_hidden[:, None] >= degrees_io[None, :]).float()  # (hidden, D)
    mask_out = (degrees_io[:, None] > degrees_hidden[None, :]).float()  # (D, hidden)
    return mask_in, mask_out


class IAFStep(nn.Module):
    """One gated IAF step; ``reverse`` runs it in the reversed variable order."""

    def __init__(self, *, latent_dim: int, hidden: int, reverse: bool, forget_bias: float) -> None:
        super().__init__()
        self.reverse = reverse
        mask_in, mask_out = made_masks(latent_dim, hidden)
        self.hidden_layer = MaskedLinear(mask_in)
        self.mean_layer = MaskedLinear(mask_out)
        self.gate_layer = MaskedLinear(mask_out)
        nn.init.constant_(self.gate_layer.bias, forget_bias)

    def forward(self, z: torch.Tensor, context_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``context_hidden`` is the (B, hidden) context projection; returns (z', log|det|)."""
        x = z.flip(-1) if self.reverse else z
        h = F.elu(self.hidden_layer(x) + context_hidden)
        mean = self.mean_layer(h)
        s = self.gate_layer(h)
        gate = torch.sigmoid(s)
        x = gate * x + (1.0 - gate) * mean
        z_new = x.flip(-1) if self.reverse else x
        return z_new, F.logsigmoid(s).sum(-1)


class IAF(nn.Module):
    """K gated IAF steps conditioned on the encoder features through Linear(context → hidden)."""

    def __init__(
        self,
        *,
        latent_dim: int,
        context_dim: int,
        num_flows: int = 4,
        hidden: int = 320,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        self.context_layer = nn.Linear(context_dim, hidden)
        self.steps = nn.ModuleList(
            IAFStep(latent_dim=latent_dim, hidden=hidden, reverse=k % 2 == 1, forget_bias=forget_bias)
            for k in range(num_flows)
        )

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context_hidden = self.context_layer(context)
        log_det = z.new_zeros(z.shape[0])
        for step in self.steps:
            z, step_log_det = step(z, context_hidden)
            log_det = log_det + step_log_det
        return z, log_det
