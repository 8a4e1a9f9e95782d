"""The gated-convolution VAE of Berg et al. (2018) with an amortized flow posterior.

Source: Berg et al. (2018) as mirrored by FFJORD App. B.2 (spec §3.2). For a 1×H×W image
(H, W divisible by 4; 28×28 for MNIST/Omniglot/Caltech, 28×20 for Frey Faces), with
``k = (H/4, W/4)`` (7×7, or 7×5 for Frey) and all gated layers ``h(x)·σ(g(x))``:

Encoder (each 5×5 layer has padding 2):
    GatedConv 1→32 s1 · 32→32 s2 · 32→64 s1 · 64→64 s2 · 64→64 s1 · 64→256 (k, s1, no pad)
    → h ∈ R^256;  μ = Linear(256→D)(h);  σ² = Softplus(Linear(256→D)(h)),
    followed by Hardtanh(0.01, 7) for the categorical (Frey) model.
Decoder, from z reshaped to D×1×1 (each 5×5 layer has padding 2):
    GatedConvT D→64 (k, s1) · 64→64 s1 · 64→32 s2 (output_padding 1) · 32→32 s1
    · 32→32 s2 (output_padding 1) · 32→32 s1                      → 32×H×W
    Bernoulli:      Conv 1×1 32→C            → logits (B, C, H, W)  (σ applied in the likelihood)
    categorical256: Conv 5×5 32→256 (pad 2), then Conv 1×1 256→256·C, no activation between
                    (as in the reference code)  → logits (B, 256, C, H, W)

``width`` multiplies every hidden channel count (32, 64, 256 → max(1, round(width·c))); the
latent size D, the image channels and the 256 classes are not scaled. width = 1 is the papers'
model. The flow is ``build_flow(flow, latent_dim=D, context_dim=<scaled 256>, **flow_options)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from replication.flows import build_flow
from replication.vae.layers import GatedConv2d, GatedConvTranspose2d
from replication.vae.objective import (
    LIKELIHOODS,
    NUM_CLASSES,
    log_likelihood,
    log_standard_normal,
    sample_diag_normal,
)

# Bounds of the Frey (categorical) posterior variance in the reference code.
VAR_MIN, VAR_MAX = 0.01, 7.0


def scaled(channels: int, width: float) -> int:
    """A hidden channel count scaled by *width*: ``max(1, round(width·channels))``."""
    return max(1, round(width * channels))


@dataclass(frozen=True)
class VAEOutput:
    """One pass x → (μ, σ²) → z_0 → z_K → logits; log_det = log |det ∂z_K/∂z_0|, (B,)."""

    logits: torch.Tensor
    z0: torch.Tensor
    zk: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    log_det: torch.Tensor


def _encoder(
    channels: int, *, c32: int, c64: int, c256: int, kernel: tuple[int, int]
) -> nn.Sequential:
    return nn.Sequential(
        GatedConv2d(channels, c32, 5, stride=1, padding=2),
        GatedConv2d(c32, c32, 5, stride=2, padding=2),
        GatedConv2d(c32, c64, 5, stride=1, padding=2),
        GatedConv2d(c64, c64, 5, stride=2, padding=2),
        GatedConv2d(c64, c64, 5, stride=1, padding=2),
        GatedConv2d(c64, c256, kernel, stride=1, padding=0),
    )


def _decoder(latent_dim: int, *, c32: int, c64: int, kernel: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        GatedConvTranspose2d(latent_dim, c64, kernel, stride=1, padding=0),
        GatedConvTranspose2d(c64, c64, 5, stride=1, padding=2),
        GatedConvTranspose2d(c64, c32, 5, stride=2, padding=2, output_padding=1),
        GatedConvTranspose2d(c32, c32, 5, stride=1, padding=2),
        GatedConvTranspose2d(c32, c32, 5, stride=2, padding=2, output_padding=1),
        GatedConvTranspose2d(c32, c32, 5, stride=1, padding=2),
    )


def _output_head(likelihood: str, channels: int, *, c32: int, c256: int) -> nn.Module:
    if likelihood == "bernoulli":
        return nn.Conv2d(c32, channels, 1)
    return nn.Sequential(
        nn.Conv2d(c32, c256, 5, padding=2),
        nn.Conv2d(c256, NUM_CLASSES * channels, 1),
    )


class VAE(nn.Module):
    """Gated-conv VAE with posterior ``q_K(z_K|x)``: a diagonal Gaussian pushed through a flow.

    ``likelihood`` is ``"bernoulli"`` (binary images: MNIST, Omniglot, Caltech) or
    ``"categorical256"`` (Frey Faces: a 256-way softmax per pixel). Images are in [0, 1].
    """

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        likelihood: str,
        latent_dim: int = 64,
        width: float = 1.0,
        flow: str = "none",
        flow_options: dict | None = None,
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        channels, height, width_px = image_shape
        if height % 4 or width_px % 4:
            raise ValueError(f"image height and width must be divisible by 4, got {image_shape}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.image_shape = (channels, height, width_px)
        self.likelihood = likelihood
        self.latent_dim = latent_dim
        kernel = (height // 4, width_px // 4)
        c32, c64, c256 = (scaled(c, width) for c in (32, 64, 256))
        self.context_dim = c256

        self.encoder = _encoder(channels, c32=c32, c64=c64, c256=c256, kernel=kernel)
        self.mean_head = nn.Linear(c256, latent_dim)
        var_layers: list[nn.Module] = [nn.Linear(c256, latent_dim), nn.Softplus()]
        if likelihood == "categorical256":
            var_layers.append(nn.Hardtanh(min_val=VAR_MIN, max_val=VAR_MAX))
        self.var_head = nn.Sequential(*var_layers)
        self.flow = build_flow(
            flow, latent_dim=latent_dim, context_dim=c256, **(flow_options or {})
        )
        self.decoder = _decoder(latent_dim, c32=c32, c64=c64, kernel=kernel)
        self.output_head = _output_head(likelihood, channels, c32=c32, c256=c256)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x (B, C, H, W)`` → ``(μ (B, D), σ² (B, D), h (B, context_dim))``."""
        h = self.encoder(x).flatten(1)
        return self.mean_head(h), self.var_head(h), h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, D)`` → logits: (B, C, H, W) for Bernoulli, (B, 256, C, H, W) for categorical."""
        out = self.output_head(self.decoder(z.view(z.shape[0], self.latent_dim, 1, 1)))
        if self.likelihood == "categorical256":
            out = out.view(z.shape[0], NUM_CLASSES, *self.image_shape)
        return out

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` per example, (B,)."""
        return log_likelihood(self.decode(z), x, likelihood=self.likelihood)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """``log N(z; 0, I)`` per example, (B,)."""
        return log_standard_normal(z)

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, draw one reparameterized ``z_0``, apply the flow, decode ``z_K``."""
        mean, var, h = self.encode(x)
        z0 = sample_diag_normal(mean, var, generator=generator)
        zk, log_det = self.flow(z0, h)
        return VAEOutput(logits=self.decode(zk), z0=z0, zk=zk, mean=mean, var=var, log_det=log_det)


__all__ = ["VAE", "VAEOutput", "scaled"]
