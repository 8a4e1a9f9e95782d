"""Unnormalised 2-D target densities p(z) ∝ exp(−U(z)) for density matching (Figure 4, §8.2).

Rezende & Mohamed (2015), Table 1, with w₁ = sin(2πz₁/4), w₂ = 3 exp(−½((z₁ − 1)/0.6)²),
w₃ = 3 σ((z₁ − 1)/0.3):

    U1 = ½((‖z‖ − 2)/0.4)² − log(exp(−½((z₁ − 2)/0.6)²) + exp(−½((z₁ + 2)/0.6)²))
    U2 = ½((z₂ − w₁)/0.4)²
    U3 = −log(exp(−½((z₂ − w₁)/0.35)²) + exp(−½((z₂ − w₁ + w₂)/0.35)²))
    U4 = −log(exp(−½((z₂ − w₁)/0.4)²) + exp(−½((z₂ − w₁ + w₃)/0.35)²))

The Neural ODE paper does not name its three targets (spec §8.2). ``FIGURE4_TARGETS`` is our
choice, U1–U3, the first three in R&M's order: a rule fixed before any run, not a pick by result.

U2–U4 do not depend on z₁ except through a bounded periodic wave, so exp(−U) has infinite mass
on ℝ² and KL(q‖p) is unbounded below (q can spread along z₁ forever). R&M plot them on [−4, 4]²;
here they are confined to that strip by a soft wall, our choice (a keyword),

    U ← U + ½ (max(|z₁| − 4, 0) / 0.1)²,

which leaves U unchanged on |z₁| ≤ 4 and makes exp(−U) integrable. U1 is integrable as it is.

``log_normalizer`` integrates exp(−U) on a grid (midpoint rule) so that a KL(q‖p) + log Z
estimate can be turned into KL; the loss itself never needs Z.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

Energy = Callable[[torch.Tensor], torch.Tensor]
FIGURE4_TARGETS = ("U1", "U2", "U3")
WALL = 4.0
WALL_WIDTH = 0.1


def _w1(z1: torch.Tensor) -> torch.Tensor:
    return torch.sin(2 * math.pi * z1 / 4)


def _w2(z1: torch.Tensor) -> torch.Tensor:
    return 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)


def _w3(z1: torch.Tensor) -> torch.Tensor:
    return 3 * torch.sigmoid((z1 - 1) / 0.3)


def _neg_log_sum_exp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return -torch.logsumexp(torch.stack([a, b]), dim=0)


def _wall(z1: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((z1.abs() - WALL).clamp_min(0) / WALL_WIDTH) ** 2


def u1(z: torch.Tensor) -> torch.Tensor:
    z1 = z[..., 0]
    ring = 0.5 * ((z.norm(dim=-1) - 2) / 0.4) ** 2
    return ring + _neg_log_sum_exp(-0.5 * ((z1 - 2) / 0.6) ** 2, -0.5 * ((z1 + 2) / 0.6) ** 2)


def u2(z: torch.Tensor) -> torch.Tensor:
    z1, z2 = z[..., 0], z[..., 1]
    return 0.5 * ((z2 - _w1(z1)) / 0.4) ** 2 + _wall(z1)


def u3(z: torch.Tensor) -> torch.Tensor:
    z1, z2 = z[..., 0], z[..., 1]
    wave = z2 - _w1(z1)
    pair = _neg_log_sum_exp(-0.5 * (wave / 0.35) ** 2, -0.5 * ((wave + _w2(z1)) / 0.35) ** 2)
    return pair + _wall(z1)


def u4(z: torch.Tensor) -> torch.Tensor:
    z1, z2 = z[..., 0], z[..., 1]
    wave = z2 - _w1(z1)
    pair = _neg_log_sum_exp(-0.5 * (wave / 0.4) ** 2, -0.5 * ((wave + _w3(z1)) / 0.35) ** 2)
    return pair + _wall(z1)


ENERGIES: dict[str, Energy] = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}


def energy(name: str) -> Energy:
    """The energy U named *name* (one of ``ENERGIES``)."""
    if name not in ENERGIES:
        raise ValueError(f"unknown energy {name!r}; known: {', '.join(ENERGIES)}")
    return ENERGIES[name]


def log_normalizer(name: str, *, limit: float = 6.0, size: int = 1200) -> float:
    """log ∫ exp(−U) over [−limit, limit]² by the midpoint rule on a size² grid (float64)."""
    width = 2 * limit / size
    axis = -limit + width * (torch.arange(size, dtype=torch.float64) + 0.5)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    return float(torch.logsumexp(-energy(name)(grid), dim=0) + 2 * math.log(width))


__all__ = ["ENERGIES", "FIGURE4_TARGETS", "energy", "log_normalizer", "u1", "u2", "u3", "u4"]
