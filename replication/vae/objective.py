"""Likelihoods, Gaussian densities and the negative ELBO of the flow VAE (spec §3.2–3.3).

Source: Berg et al. (2018), "Sylvester normalizing flows", whose protocol FFJORD App. B.2
mirrors. With ``z_0 ~ q_0(z_0|x) = N(μ(x), diag σ²(x))`` and ``z_K = f(z_0; h(x))`` a flow
with ``log |det ∂z_K/∂z_0|`` = ``log_det``, the density of ``z_K`` is
``log q_K(z_K|x) = log q_0(z_0|x) − log_det`` and, with one Monte Carlo sample,

    −ELBO(x) = −log p(x|z_K)  +  [log q_0(z_0|x) − log p(z_K) − log_det]
             =  reconstruction +  kl

where ``p(z) = N(0, I)``. Training uses ``reconstruction + β·kl`` with the warm-up weight β
(β = min(epoch/100, 1) in the reference code); test numbers use β = 1. Everything here is per
example, shape ``(B,)``, in nats; :func:`bits_per_dim` converts Frey Faces numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "categorical256")
NUM_CLASSES = 256
_LOG_2PI = math.log(2.0 * math.pi)


class LatentVariableModel(Protocol):
    """What the ELBO and the importance-sampling estimator need from a model.

    ``encode(x) -> (mean (B, D), var (B, D), h (B, C))`` gives the base posterior
    ``q_0 = N(mean, diag var)`` and the flow's context ``h``; ``flow(z_0, h) -> (z_K, log_det)``;
    ``log_px_given_z(x, z_K) -> (B,)`` and ``log_prior(z_K) -> (B,)`` are the generative model.
    """

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ...

    def flow(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor: ...

    def log_prior(self, z: torch.Tensor) -> torch.Tensor: ...


def log_likelihood(logits: torch.Tensor, x: torch.Tensor, *, likelihood: str) -> torch.Tensor:
    """``log p(x|z)`` per example, summed over pixels, from the decoder's logits.

    - ``"bernoulli"``: ``logits`` has the shape of ``x`` (B, C, H, W); the result is
      ``Σ [x log σ(l) + (1 − x) log(1 − σ(l))]`` = −BCE-with-logits summed over pixels.
    - ``"categorical256"``: ``logits`` is (B, 256, C, H, W); the targets are the integer
      intensities ``round(255·x)`` and the result is ``Σ log softmax(l)[target]``.
    """
    dims = tuple(range(1, x.dim()))
    if likelihood == "bernoulli":
        if logits.shape != x.shape:
            raise ValueError(f"bernoulli logits {tuple(logits.shape)} != x {tuple(x.shape)}")
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dims)
    if likelihood == "categorical256":
        expected = (x.shape[0], NUM_CLASSES, *x.shape[1:])
        if tuple(logits.shape) != expected:
            raise ValueError(f"categorical256 logits {tuple(logits.shape)}, expected {expected}")
        target = torch.round(x * (NUM_CLASSES - 1)).long().clamp_(0, NUM_CLASSES - 1)
        return -F.cross_entropy(logits, target, reduction="none").sum(dims)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I) = −½ Σ_d (z_d² + log 2π)``, shape (B,)."""
    return -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)


def log_normal_diag(z: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``log N(z; μ, diag σ²) = −½ Σ_d (log 2π + log σ_d² + (z_d − μ_d)²/σ_d²)``, shape (B,)."""
    return -0.5 * (_LOG_2PI + var.log() + (z - mean).pow(2) / var).sum(-1)


def sample_diag_normal(
    mean: torch.Tensor, var: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Reparameterized sample ``z = μ + σ·ε``, ``ε ~ N(0, I)`` drawn from *generator*."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + var.sqrt() * eps


@dataclass(frozen=True)
class ElboTerms:
    """Per-example terms of the β-weighted negative ELBO, each (B,) in nats.

    ``reconstruction = −log p(x|z_K)``; ``kl = log q_0(z_0|x) − log p(z_K) − log_det`` (a
    one-sample estimate of KL(q_K‖p)); ``loss = reconstruction + β·kl``. With β = 1, ``loss``
    is the −ELBO reported in the VAE table.
    """

    reconstruction: torch.Tensor
    kl: torch.Tensor
    loss: torch.Tensor


def negative_elbo(
    model: LatentVariableModel,
    x: torch.Tensor,
    *,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
) -> ElboTerms:
    """One-sample estimate of ``−ELBO`` with the KL term weighted by *beta* (warm-up)."""
    mean, var, h = model.encode(x)
    z0 = sample_diag_normal(mean, var, generator=generator)
    zk, log_det = model.flow(z0, h)
    reconstruction = -model.log_px_given_z(x, zk)
    kl = log_normal_diag(z0, mean, var) - model.log_prior(zk) - log_det
    return ElboTerms(reconstruction=reconstruction, kl=kl, loss=reconstruction + beta * kl)


def bits_per_dim(nats: torch.Tensor | float, *, image_shape: Sequence[int]) -> torch.Tensor | float:
    """Convert a per-image value in nats to bits per dimension: ``nats / (C·H·W · ln 2)``.

    For Frey Faces (1×28×20) this is ``nats / (560 ln 2)``, as in the VAE table.
    """
    return nats / (math.prod(image_shape) * math.log(2.0))


__all__ = [
    "LIKELIHOODS",
    "NUM_CLASSES",
    "ElboTerms",
    "LatentVariableModel",
    "bits_per_dim",
    "log_likelihood",
    "log_normal_diag",
    "log_standard_normal",
    "negative_elbo",
    "sample_diag_normal",
]
