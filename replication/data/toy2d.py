"""Samplers of the 2-D toy distributions of FFJORD's density-estimation figure (Fig. 2).

Every sampler draws ``n`` i.i.d. points from a fixed distribution on ℝ², using only the given
``torch.Generator`` (so a sample is a pure function of the generator's state), and returns a
float64 tensor of shape ``(n, 2)``. The distributions, written from their mathematical
description (the data sit roughly in [-4, 4]²):

* ``8gaussians`` — an equal mixture of 8 isotropic Gaussians, means at radius 2√2 at angles
  kπ/4, standard deviation 0.5/√2 ≈ 0.354.
* ``checkerboard`` — uniform on the 8 "black" squares of side 2 of a 4 × 4 checkerboard on
  [-4, 4]² (a square is black when its column and row indices have the same parity).
* ``2spirals`` — two interleaved Archimedean spirals r = θ (θ ≤ 3π, with θ ∝ √U so the
  density along the arc is even), one the point reflection of the other, scaled by 1/3,
  with uniform jitter U[0, 0.5)² / 3 and Gaussian noise of standard deviation 0.1.
* ``pinwheel`` — 5 arms: radial coordinate 1 + N(0, 0.3²), tangential N(0, 0.1²), rotated
  by the arm's angle 2πk/5 plus a twist 0.25·exp(radial), then scaled by 2.
* ``circles`` — two concentric circles of radius 3 and 1.5 (equal weight), noise 0.08·3.
* ``rings`` — four concentric rings of radius 1, 2, 3, 4 (weight ∝ radius), noise 0.08.
* ``moons`` — two interleaved half circles, centred and scaled by 2, noise 0.1·2.
* ``swissroll`` — the 2-D Swiss roll (t cos t, t sin t)/5, t ∈ 1.5π(1 + 2U), noise 1/5.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

Sampler = Callable[..., torch.Tensor]
_DTYPE = torch.float64


def _uniform(n: int, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(n, *shape, generator=generator, dtype=_DTYPE)


def _normal(n: int, generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(n, *shape, generator=generator, dtype=_DTYPE)


def _choice(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, k, (n,), generator=generator)


def _on_circle(radius: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


def eight_gaussians(n: int, *, generator: torch.Generator) -> torch.Tensor:
    angle = _choice(n, 8, generator).to(_DTYPE) * (math.pi / 4)
    centres = _on_circle(torch.full((n,), 2 * math.sqrt(2), dtype=_DTYPE), angle)
    return centres + _normal(n, generator, 2) * (0.5 / math.sqrt(2))


def checkerboard(n: int, *, generator: torch.Generator) -> torch.Tensor:
    # Columns c ∈ {0..3} and rows r ∈ {0..3} of side-2 squares; black when c ≡ r (mod 2).
    column = _choice(n, 4, generator)
    row = 2 * _choice(n, 2, generator) + column % 2
    offsets = _uniform(n, generator, 2)
    return torch.stack([column, row], dim=1).to(_DTYPE) * 2 - 4 + 2 * offsets


def two_spirals(n: int, *, generator: torch.Generator) -> torch.Tensor:
    theta = _uniform(n, generator).sqrt() * (3 * math.pi)
    arc = torch.stack([-theta * theta.cos(), theta * theta.sin()], dim=1)
    arc = arc + _uniform(n, generator, 2) * 0.5
    sign = 1 - 2 * _choice(n, 2, generator).to(_DTYPE)  # which of the two spirals
    return arc * sign[:, None] / 3 + _normal(n, generator, 2) * 0.1


def pinwheel(n: int, *, generator: torch.Generator) -> torch.Tensor:
    arms, radial_std, tangential_std, twist = 5, 0.3, 0.1, 0.25
    arm = _choice(n, arms, generator).to(_DTYPE)
    features = _normal(n, generator, 2) * torch.tensor([radial_std, tangential_std], dtype=_DTYPE)
    features[:, 0] += 1
    angle = arm * (2 * math.pi / arms) + twist * features[:, 0].exp()
    cos, sin = angle.cos(), angle.sin()
    rotated = torch.stack([features[:, 0] * cos - features[:, 1] * sin,
                           features[:, 0] * sin + features[:, 1] * cos], dim=1)
    return 2 * rotated


def circles(n: int, *, generator: torch.Generator) -> torch.Tensor:
    radius = torch.where(_choice(n, 2, generator) == 0, 1.0, 0.5).to(_DTYPE)
    angle = _uniform(n, generator) * (2 * math.pi)
    return 3 * (_on_circle(radius, angle) + _normal(n, generator, 2) * 0.08)


def rings(n: int, *, generator: torch.Generator) -> torch.Tensor:
    # Weight ∝ radius, so the density along every ring is the same.
    radius = 1 + torch.multinomial(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=_DTYPE), n,
                                   replacement=True, generator=generator).to(_DTYPE)
    angle = _uniform(n, generator) * (2 * math.pi)
    return _on_circle(radius, angle) + _normal(n, generator, 2) * 0.08


def moons(n: int, *, generator: torch.Generator) -> torch.Tensor:
    angle = _uniform(n, generator) * math.pi
    upper = _choice(n, 2, generator) == 0
    x = torch.where(upper, angle.cos(), 1 - angle.cos())
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin())
    points = torch.stack([x - 0.5, y - 0.25], dim=1)
    return 2 * (points + _normal(n, generator, 2) * 0.1)


def swissroll(n: int, *, generator: torch.Generator) -> torch.Tensor:
    t = 1.5 * math.pi * (1 + 2 * _uniform(n, generator))
    return (torch.stack([t * t.cos(), t * t.sin()], dim=1) + _normal(n, generator, 2)) / 5


DATASETS: dict[str, Sampler] = {
    "8gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "2spirals": two_spirals,
    "pinwheel": pinwheel,
    "circles": circles,
    "rings": rings,
    "moons": moons,
    "swissroll": swissroll,
}


def sample(name: str, n: int, *, generator: torch.Generator) -> torch.Tensor:
    """``n`` points of the toy distribution *name*, shape ``(n, 2)``, float64, on the CPU."""
    if name not in DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; known: {', '.join(DATASETS)}")
    if n < 0:
        raise ValueError(f"the number of samples must be non-negative, got {n}")
    return DATASETS[name](n, generator=generator)
