"""Traces of the Jacobian ∂f/∂z of ODE dynamics, for continuous normalizing flows.

A CNF dz/dt = f(t, z) changes log-density by the instantaneous change of variables
(FFJORD eq. 2 / Neural ODE Thm. 1)::

    d log p(z(t)) / dt = -tr(∂f/∂z(t)),

so the log-determinant of the flow map z(0) ↦ z(T) is ∫₀ᵀ tr(∂f/∂z) dt. Two ways to get the
trace, both per sample for a batch ``z`` of shape ``(B, D)`` whose rows do not interact
(``f`` row b depends only on row b of ``z``):

* :func:`exact_trace` — Σᵢ ∂fᵢ/∂zᵢ. Reverse-mode autograd gives one row eᵢᵀ(∂f/∂z) of the
  Jacobian per vector-Jacobian product (vjp), so the exact trace costs **D vjps**, i.e.
  O(D) evaluations' worth of backward passes through f, per function evaluation.
* :func:`hutchinson_trace` — Hutchinson's estimator tr(J) = E[εᵀ J ε] for any noise with
  E[ε] = 0, Cov[ε] = I (Gaussian or Rademacher). One vjp εᵀJ, then a dot product with ε:
  **one vjp**, O(1) in D. Its variance is ½‖J + Jᵀ‖_F² for Gaussian ε and
  ½‖J + Jᵀ‖_F² − 2Σᵢ Jᵢᵢ² for Rademacher ε (never larger). FFJORD uses it in training, with
  ε drawn **once per ODE solve** (eq. 8, Algorithm 1): re-drawing ε at every evaluation of f
  makes the dynamics a random function of t, so the adaptive solver cannot meet its
  tolerance and its number of function evaluations explodes (spec §5 item 8).

``create_graph=True`` keeps the graph of the trace itself, which is needed whenever the
trace must be differentiated again: training by backpropagation through the solver and
the adjoint's backward pass (which differentiates the augmented dynamics [f, tr]).
"""
from __future__ import annotations

from typing import Literal

import torch

NoiseKind = Literal["gaussian", "rademacher"]


def sample_noise(like: torch.Tensor, kind: NoiseKind = "gaussian") -> torch.Tensor:
    """Noise ε shaped like *like* with E[ε] = 0 and Cov[ε] = I, for Hutchinson's estimator."""
    if kind == "gaussian":
        return torch.randn_like(like)
    if kind == "rademacher":
        return torch.randint(0, 2, like.shape, device=like.device).to(like.dtype).mul_(2).sub_(1)
    raise ValueError(f"noise must be 'gaussian' or 'rademacher', got {kind!r}")


def exact_trace(f: torch.Tensor, z: torch.Tensor, *, create_graph: bool = False,
                vectorize: bool = False) -> torch.Tensor:
    """tr(∂f/∂z) per sample, exactly: one vjp per dimension (D vjps in all).

    ``f`` and ``z`` have shape ``(B, D)`` and ``f`` must have been computed from ``z`` with
    autograd recording. Row i of the Jacobian is obtained as the vjp with the one-hot vector
    eᵢ (summed over the batch, which is exact because samples do not interact), and only its
    diagonal entry is kept. ``vectorize=True`` does the same D vjps in one batched call
    (``torch.autograd.grad(..., is_grads_batched=True)``, i.e. vmap over the one-hot vectors):
    the same arithmetic, fewer Python round trips, more memory.
    """
    batch, dim = f.shape
    if vectorize:
        eye = torch.eye(dim, dtype=f.dtype, device=f.device)
        onehots = eye.unsqueeze(1).expand(dim, batch, dim)  # (D, B, D): e_i for every sample
        (rows,) = torch.autograd.grad(f, z, onehots, create_graph=create_graph,
                                      is_grads_batched=True)  # rows[i] = e_iᵀ J, (D, B, D)
        return torch.diagonal(rows, dim1=0, dim2=2).sum(-1)
    trace = f.new_zeros(batch)
    for i in range(dim):
        (row,) = torch.autograd.grad(f[:, i].sum(), z, create_graph=create_graph, retain_graph=True)
        trace = trace + row[:, i]
    return trace


def hutchinson_trace(f: torch.Tensor, z: torch.Tensor, noise: torch.Tensor, *,
                     create_graph: bool = False) -> torch.Tensor:
    """Unbiased estimate εᵀ(∂f/∂z)ε of tr(∂f/∂z) per sample, from one vjp.

    ``noise`` is ε, shape ``(B, D)``; hold it fixed for a whole ODE solve (see module notes).
    """
    (vjp,) = torch.autograd.grad(f, z, noise, create_graph=create_graph, retain_graph=True)
    return (vjp * noise).sum(dim=1)


__all__ = ["NoiseKind", "exact_trace", "hutchinson_trace", "sample_noise"]
