"""The density-matching loss of Neural ODE Figure 4 and its Monte Carlo standard error.

For a flow q and a target p(x) = exp(−U(x))/Z known up to Z = ∫ exp(−U), log p = −U − log Z, so

    KL(q‖p) = E_q[log q(x) − log p(x)] = E_q[log q(x) + U(x)] + log Z,

and the loss L = E_q[log q + U] = KL(q‖p) − log Z is "KL up to a constant" (the spec writes
"KL + log Z", which is the same with Z defined as the reciprocal). L is estimated from N samples
of q by the sample mean of log q(xᵢ) + U(xᵢ), with standard error s/√N (s the sample standard
deviation); KL itself is L + log Z when Z is known (e.g. by quadrature,
:func:`replication.data.energies.log_normalizer`). KL ≥ 0 gives L ≥ −log Z.
"""
from __future__ import annotations

import math

import torch


def kl_loss_estimate(log_q: torch.Tensor, energy_values: torch.Tensor) -> dict[str, float]:
    """Mean and standard error of log q + U over samples (1-D tensors of equal length ≥ 2)."""
    if log_q.ndim != 1 or log_q.shape != energy_values.shape or log_q.numel() < 2:
        raise ValueError(f"need two 1-D tensors of equal length >= 2, got {tuple(log_q.shape)} "
                         f"and {tuple(energy_values.shape)}")
    values = (log_q + energy_values).detach().to(torch.float64)
    if not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise FloatingPointError(f"{bad} of {values.numel()} samples "
                                 "give a non-finite log q + U: the flow diverged")
    return {"loss": float(values.mean()), "stderr": float(values.std() / math.sqrt(values.numel())),
            "samples": values.numel()}


__all__ = ["kl_loss_estimate"]
