"""Importance-sampled estimate of −log p(x) for a VAE with a flow posterior (spec §3.3).

Source: Berg et al. (2018) test protocol, mirrored by FFJORD App. B.2 (FFJORD itself reports
only −ELBO). With the flow posterior as proposal, z_0^s ~ N(μ(x), diag σ²(x)) and
z_K^s = f(z_0^s; h(x)),

    log q_K(z_K^s|x) = log N(z_0^s; μ, σ²) − log_det^s
    −log p(x) ≈ −log (1/S) Σ_s p(x|z_K^s) p(z_K^s) / q_K(z_K^s|x)
             = log S − logsumexp_s [log p(x|z_K^s) + log p(z_K^s) − log N(z_0^s; μ, σ²) + log_det^s]

The papers use S = 5000 (S = 2000 for Caltech) in minibatches of 500 samples. For every S the
expectation of the estimate of log p(x) is at least the ELBO and grows with S (Burda et al.
2016), converging to log p(x).

Samples are drawn ``chunk`` at a time per data point; the log-weights of a chunk are reduced
with ``logsumexp`` and folded into a running total with ``logaddexp``, so at most
``B·chunk`` decoder evaluations are live at once and the S weights are never stored. Noise
is drawn one sample (a (B, D) tensor) at a time from ``generator`` in a fixed order, so the
estimate for a fixed generator state does not depend on ``chunk``.
"""
from __future__ import annotations

import math

import torch

from replication.vae.objective import LatentVariableModel, log_normal_diag


def _expand(t: torch.Tensor, n: int) -> torch.Tensor:
    """Stack *n* copies of a (B, ...) tensor sample-major: (n·B, ...), copy s at rows s·B…."""
    return t.repeat(n, *([1] * (t.dim() - 1)))


@torch.no_grad()
def importance_sampled_nll(
    model: LatentVariableModel,
    x: torch.Tensor,
    *,
    samples: int,
    chunk: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Estimate ``−log p(x)`` per data point, shape (B,), in nats, with *samples* draws each.

    *model* follows :class:`~replication.vae.objective.LatentVariableModel`; *chunk* is the
    number of samples per data point evaluated together (one decoder pass on B·chunk inputs).
    Runs under ``torch.no_grad``; put the model in eval mode first if that matters to it.
    """
    if samples < 1 or chunk < 1:
        raise ValueError(f"samples and chunk must be positive, got {samples} and {chunk}")
    mean, var, h = model.encode(x)
    batch, latent = mean.shape
    total: torch.Tensor | None = None
    done = 0
    while done < samples:
        n = min(chunk, samples - done)
        options = dict(generator=generator, dtype=mean.dtype, device=mean.device)
        eps = torch.stack([torch.randn((batch, latent), **options) for _ in range(n)])
        z0 = (mean + var.sqrt() * eps).reshape(n * batch, latent)
        zk, log_det = model.flow(z0, _expand(h, n))
        log_q0 = log_normal_diag(z0, _expand(mean, n), _expand(var, n))
        log_w = model.log_px_given_z(_expand(x, n), zk) + model.log_prior(zk) - log_q0 + log_det
        chunk_total = torch.logsumexp(log_w.view(n, batch), dim=0)
        total = chunk_total if total is None else torch.logaddexp(total, chunk_total)
        done += n
    assert total is not None
    return math.log(samples) - total


__all__ = ["LatentVariableModel", "importance_sampled_nll"]
