"""Two Circles and Two Moons, the data of Neural ODE Figure 5 (§4.1; spec §8.3).

The paper names the data sets only. torchdiffeq's ``cnf.py`` draws circles with scikit-learn's
``make_circles(noise=0.06, factor=0.5)``; :mod:`replication.data.toy2d` has FFJORD's versions
(circles of radius 3 and 1.5, moons scaled by 2), which are not these. Written here from
scikit-learn's definitions, with i.i.d. angles (scikit-learn spaces them evenly), so that every
call is a fresh i.i.d. sample from a fixed distribution:

* ``two_circles`` — with probability ½ each, a point at angle θ ~ U[0, 2π) on the circle of
  radius 1 or of radius ``factor`` = 0.5, plus N(0, noise²) per coordinate, noise = 0.06.
* ``two_moons`` — with probability ½ each, (cos θ, sin θ) or (1 − cos θ, ½ − sin θ),
  θ ~ U[0, π], shifted by (−½, −¼) so the set is centred at the origin (our choice), plus
  N(0, noise²) per coordinate; noise = 0.06 (our choice: unstated; the circles' value).

Both return float64 tensors (n, 2) drawn from the given ``torch.Generator`` only.
"""
from __future__ import annotations

import math

import torch

DTYPE = torch.float64


def _check(n: int, noise: float) -> None:
    if n < 0:
        raise ValueError(f"the number of samples must be >= 0, got {n}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")


def two_circles(n: int, *, generator: torch.Generator, noise: float = 0.06,
                factor: float = 0.5) -> torch.Tensor:
    _check(n, noise)
    radius = torch.where(torch.rand(n, generator=generator) < 0.5, 1.0, factor).to(DTYPE)
    angle = 2 * math.pi * torch.rand(n, generator=generator, dtype=DTYPE)
    points = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return points + noise * torch.randn(n, 2, generator=generator, dtype=DTYPE)


def two_moons(n: int, *, generator: torch.Generator, noise: float = 0.06) -> torch.Tensor:
    _check(n, noise)
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator, dtype=DTYPE)
    x = torch.where(upper, angle.cos(), 1 - angle.cos()) - 0.5
    y = torch.where(upper, angle.sin(), 0.5 - angle.sin()) - 0.25
    return torch.stack([x, y], dim=1) + noise * torch.randn(n, 2, generator=generator, dtype=DTYPE)


DATASETS = {"two_circles": two_circles, "two_moons": two_moons}


def sample(name: str, n: int, *, generator: torch.Generator) -> torch.Tensor:
    """``n`` points of *name* (``two_circles`` or ``two_moons``) at the default settings."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name](n, generator=generator)


__all__ = ["DATASETS", "sample", "two_circles", "two_moons"]
