"""Inverse autoregressive flow as Berg et al. (2018) built it (Kingma et al. 2016; spec §7).

Each of the K steps k = 0 … K−1 computes, from a MADE (Germain et al. 2015) with
``num_hidden`` = 1 hidden→hidden layer,

    if k is odd: z ← reverse(z)          (and *not* reversed back: with K = 4 the steps see the
                                          orders original, reversed, reversed, original)
    h = ELU(W_in z + b_in) + c            c = Linear(context) (one projection shared by all
                                          steps), added *after* the ELU
    h = ELU(W_hh h + b_hh)
    m = W_m h + b_m,   s = W_s h + b_s    (masked so that m_i, s_i depend on z_{<i} only)
    σ = sigmoid(s + forget_bias),   z ← σ ⊙ z + (1 − σ) ⊙ m,

the numerically stable "LSTM-type" update of Kingma et al. 2016, §4 / Alg. 2. Because m and s
are autoregressive, ∂z'/∂z is triangular with diagonal σ, so

    log |det ∂z'/∂z| = Σ_i log σ_i         (computed as logsigmoid: exact and never log 0).

``forget_bias`` (1.0) is a constant added to s, as in the reference code, so σ starts
towards 1 (σ(1) ≈ 0.73): each step starts as a mild contraction towards m.

Masks (:func:`block_mask`) are block masks by index, not random degrees: for a layer with
n_in inputs and n_out outputs, if n_out ≥ n_in (k = n_out / n_in) output j may see input i iff
i ≤ ⌊j/k⌋ (strict: i < ⌊j/k⌋); if n_out < n_in (k = n_in / n_out) iff ⌊i/k⌋ ≤ j (strict:
⌊i/k⌋ < j). The D→H and H→H layers are non-strict, the two H→D heads strict, so output j
depends on z_{<j}. H must be a multiple of D. Masked weights start Kaiming-normal (fan-in,
gain √2), their biases zero.

At z = 64, K = 4, H = 320 the whole VAE has the reference's 3,807,777 parameters on MNIST and
3,505,152 on Frey Faces (tests/test_iaf_reference.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def block_mask(n_in: int, n_out: int, *, strict: bool) -> torch.Tensor:
    """The (n_out, n_in) 0/1 mask of Berg et al.'s MADE layers (see the module notes)."""
    inputs = torch.arange(n_in)[None, :]
    outputs = torch.arange(n_out)[:, None]
    if n_out >= n_in:
        if n_out % n_in:
            raise ValueError(f"a MADE layer {n_in} → {n_out} needs n_out a multiple of n_in")
        limit = outputs // (n_out // n_in)
        allowed = inputs < limit if strict else inputs <= limit
    else:
        if n_in % n_out:
            raise ValueError(f"a MADE layer {n_in} → {n_out} needs n_in a multiple of n_out")
        block = inputs // (n_in // n_out)
        allowed = block < outputs if strict else block <= outputs
    return allowed.float()


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 mask of shape (out, in);
    weight Kaiming-normal, bias zero (the reference's initialisation)."""

    def __init__(self, mask: torch.Tensor) -> None:
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))
        nn.init.kaiming_normal_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class IAFStep(nn.Module):
    """One gated IAF step on z as it is ordered when the step runs."""

    def __init__(self, *, latent_dim: int, hidden: int, num_hidden: int,
                 forget_bias: float) -> None:
        super().__init__()
        if hidden % latent_dim:
            raise ValueError(f"IAF hidden width {hidden} must be a multiple of latent_dim "
                             f"{latent_dim} (the reference's block masks)")
        self.forget_bias = forget_bias
        self.input_layer = MaskedLinear(block_mask(latent_dim, hidden, strict=False))
        self.hidden_layers = nn.ModuleList(
            MaskedLinear(block_mask(hidden, hidden, strict=False)) for _ in range(num_hidden))
        self.mean_layer = MaskedLinear(block_mask(hidden, latent_dim, strict=True))
        self.gate_layer = MaskedLinear(block_mask(hidden, latent_dim, strict=True))

    def forward(self, z: torch.Tensor, context_hidden: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``context_hidden``: the (B, hidden) context projection; returns (z', log|det|)."""
        h = F.elu(self.input_layer(z)) + context_hidden
        for layer in self.hidden_layers:
            h = F.elu(layer(h))
        mean = self.mean_layer(h)
        s = self.gate_layer(h) + self.forget_bias
        gate = torch.sigmoid(s)
        return gate * z + (1.0 - gate) * mean, F.logsigmoid(s).sum(-1)


class IAF(nn.Module):
    """K gated IAF steps conditioned on the encoder features through Linear(context → hidden)."""

    def __init__(
        self,
        *,
        latent_dim: int,
        context_dim: int,
        num_flows: int = 4,
        hidden: int = 320,
        num_hidden: int = 1,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        self.context_layer = nn.Linear(context_dim, hidden)
        self.steps = nn.ModuleList(
            IAFStep(latent_dim=latent_dim, hidden=hidden, num_hidden=num_hidden,
                    forget_bias=forget_bias)
            for _ in range(num_flows)
        )

    @staticmethod
    def reverses_before(k: int) -> bool:
        """Whether step k reverses z's order before it runs (odd k; never reversed back)."""
        return k % 2 == 1

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context_hidden = self.context_layer(context)
        log_det = z.new_zeros(z.shape[0])
        for k, step in enumerate(self.steps):
            if self.reverses_before(k):
                z = z.flip(-1)
            z, step_log_det = step(z, context_hidden)
            log_det = log_det + step_log_det
        return z, log_det
