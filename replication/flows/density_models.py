"""A planar NF or a planar CNF as a 2-D density model q with a Gaussian base (Figures 4 and 5).

Two uses, one interface:

* ``sample(z0) -> (x, log q(x))`` pushes base samples z₀ ~ N(0, σ₀² I) through the model, for
  density matching by KL(q‖p) (Figure 4), where q must be sampled and evaluated at its samples;
* ``log_density(x) -> log q(x)`` evaluates data, for maximum likelihood (Figure 5).

:class:`NFDensity` takes a :class:`~replication.flows.planar_nf.PlanarNF` and a ``direction``:
``"generative"`` (x = flow(z₀): exact samples and log q at them; log_density needs the inverse
and is not offered) or ``"normalizing"`` (z = flow(x): exact log q(x) = log N(z) + log|det|;
samples by the exact inverse, without log q). :class:`CNFDensity` takes an
:class:`~replication.ode.exact_flow.ExactTraceFlow`: base at t = 0, data at t = T; sampling
solves 0 → T (log q = log N(z₀) − ∫₀ᵀ tr), evaluation solves T → 0
(log q(x) = log N(z₀) + ∫_T⁰ tr); ``trajectory`` gives the samples at intermediate times
(Figure 5's 5 … 100 % panels).

The end time T and the base σ₀ are unstated in the paper; the defaults here are T = 1, σ₀ = 1.
torchdiffeq's ``cnf.py`` (maximum likelihood on circles) uses T = 10 and σ₀² = 0.1 (spec §8.3).
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from replication.flows.planar_nf import PlanarNF
from replication.ode.exact_flow import ExactTraceFlow, standard_normal_log_density

Direction = Literal["generative", "normalizing"]


class NFDensity(nn.Module):
    def __init__(self, flow: PlanarNF, *, direction: Direction, base_std: float = 1.0) -> None:
        super().__init__()
        if direction not in ("generative", "normalizing"):
            raise ValueError(f"direction must be 'generative' or 'normalizing', got {direction!r}")
        self.flow, self.direction, self.base_std = flow, direction, float(base_std)

    def sample(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.direction == "generative":
            x, log_det = self.flow(z0)
            return x, standard_normal_log_density(z0, std=self.base_std) - log_det
        return self.flow.inverse(z0), None

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        if self.direction != "normalizing":
            raise ValueError("log_density needs direction='normalizing' "
                             "(a planar NF has no closed-form inverse)")
        z, log_det = self.flow(x)
        return standard_normal_log_density(z, std=self.base_std) + log_det


class CNFDensity(nn.Module):
    def __init__(self, flow: ExactTraceFlow, *, T: float = 1.0, base_std: float = 1.0) -> None:
        super().__init__()
        if not T > 0:
            raise ValueError(f"the end time T must be positive, got {T}")
        self.flow, self.T, self.base_std = flow, float(T), float(base_std)

    def sample(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, trace_integral = self.flow(z0, t0=0.0, t1=self.T)
        return x, standard_normal_log_density(z0, std=self.base_std) - trace_integral

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        z0, trace_integral = self.flow(x, t0=self.T, t1=0.0)
        return standard_normal_log_density(z0, std=self.base_std) + trace_integral

    def trajectory(self, z0: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
        """Samples at times fractions·T (fractions ascending from 0 to 1): (F, B, D)."""
        times = fractions.to(z0.dtype) * self.T
        zs, _ = self.flow(z0, t0=0.0, t1=self.T, times=times)
        return zs


__all__ = ["CNFDensity", "NFDensity"]
