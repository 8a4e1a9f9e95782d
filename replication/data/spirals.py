"""The 2-D spirals of Neural ODE Table 2 (§5.1, App. E; spec §8.1), irregularly subsampled.

What the paper states: 1000 two-dimensional spirals, each starting at a different point, sampled
at 100 equally spaced time steps, half clockwise and half counter-clockwise, with Gaussian noise;
n ∈ {30, 50, 100} points of each trajectory drawn **without replacement** (irregular times); the
RMSE is taken on the 100 time points that follow the observation window (extrapolation).

What the paper leaves unstated, and what this module chooses (every choice is a keyword):

* The spiral: an Archimedean spiral r = b·θ about the origin, b = 0.3, as torchdiffeq's
  ``latent_ode.py`` example (spec §8.1) but with both directions sharing one formula: the
  counter-clockwise spiral is ``z(θ) = bθ (cos θ, sin θ)`` with θ = θ₀ + t, and the clockwise one
  is its mirror image ``bθ (−cos θ, sin θ)``. Both wind outwards as time runs, so the direction
  (the sense of rotation) is the only thing telling the two kinds apart; the centre is shared.
* Time: t_i = i·step for i = 0 … n_window + n_extrapolate − 1, the same grid for every spiral,
  with step = 6π/499 (torchdiffeq's grid spacing); a window of 100 steps is ≈ 0.6 turns.
* Start points: θ₀ ~ U[100·step, 400·step] per spiral (torchdiffeq's range of start indices).
* Noise: i.i.d. N(0, σ²) on each coordinate of every point (observed and extrapolated);
  σ = ``noise_std`` is required, because the paper gives none (torchdiffeq uses 0.3; its issue
  #117 reports RMSE near the paper's only with less noise). The clean trajectories are returned
  too, so a RMSE can be taken against either.
* Split: a random ``test_fraction`` (default 0.2) of the spirals is held out; the directions are
  balanced in the whole set (exactly half each) and split at random.

Clean trajectories solve the autonomous ODE (checked in tests against the closed form)

    dz/dt = (b/‖z‖) z + s·J z,   J = [[0, −1], [1, 0]],   s = +1 counter-clockwise, −1 clockwise,

because d/dt [bθ(cos θ, sin θ)] = b(cos θ, sin θ) + bθ(−sin θ, cos θ) with dθ/dt = 1.

All randomness comes from the given ``torch.Generator``; no global RNG is touched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DTYPE = torch.float64
STEP = 6 * math.pi / 499  # torchdiffeq's grid spacing of [0, 6π] in 500 points
OBSERVED_CHOICES = (30, 50, 100)


@dataclass(frozen=True)
class Spirals:
    """A set of spirals on a shared time grid, with one irregular subsample per spiral.

    Shapes: ``times`` (T,), ``clean``/``noisy`` (N, T, 2), ``direction`` (N,) ∈ {+1, −1}
    (+1 counter-clockwise), ``theta0`` (N,), ``observed`` (N, n) sorted indices into the first
    ``n_window`` grid points; T = n_window + n_extrapolate.
    """

    times: torch.Tensor
    clean: torch.Tensor
    noisy: torch.Tensor
    direction: torch.Tensor
    theta0: torch.Tensor
    observed: torch.Tensor
    n_window: int
    noise_std: float
    b: float

    def __len__(self) -> int:
        return self.clean.shape[0]

    @property
    def n_observed(self) -> int:
        return self.observed.shape[1]

    def observations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The noisy observed points (N, n, 2) and their times (N, n), in time order."""
        index = self.observed.unsqueeze(-1).expand(-1, -1, 2)
        return self.noisy.gather(1, index), self.times[self.observed]

    def window(self, *, clean: bool) -> torch.Tensor:
        """All ``n_window`` points of the observation window, (N, n_window, 2)."""
        return (self.clean if clean else self.noisy)[:, : self.n_window]

    def extrapolation(self, *, clean: bool) -> torch.Tensor:
        """The points after the window, the extrapolation target, (N, n_extrapolate, 2)."""
        return (self.clean if clean else self.noisy)[:, self.n_window:]

    def subset(self, index: torch.Tensor) -> "Spirals":
        """The spirals at ``index`` (a 1-D index tensor), sharing the grid."""
        return Spirals(self.times, self.clean[index], self.noisy[index], self.direction[index],
                       self.theta0[index], self.observed[index], self.n_window, self.noise_std,
                       self.b)


def spiral_points(theta: torch.Tensor, direction: torch.Tensor, *, b: float) -> torch.Tensor:
    """Points bθ(s·cos θ, sin θ) for angles ``theta`` (..., T), directions ``direction`` (...,)."""
    radius = b * theta
    x = direction.unsqueeze(-1) * radius * theta.cos()
    return torch.stack([x, radius * theta.sin()], dim=-1)


def spiral_velocity(z: torch.Tensor, direction: torch.Tensor, *, b: float) -> torch.Tensor:
    """The right-hand side (b/‖z‖) z + s·J z of the spirals' ODE, for z (..., 2), s (...,)."""
    radial = (b / z.norm(dim=-1, keepdim=True)) * z
    rotation = torch.stack([-z[..., 1], z[..., 0]], dim=-1) * direction.unsqueeze(-1)
    return radial + rotation


def make_spirals(*, n_observed: int, noise_std: float, generator: torch.Generator,
                 n_spirals: int = 1000, n_window: int = 100, n_extrapolate: int = 100,
                 step: float = STEP, b: float = 0.3,
                 start_range: tuple[float, float] = (100 * STEP, 400 * STEP)) -> Spirals:
    """``n_spirals`` spirals (half each direction) with ``n_observed`` of ``n_window`` points each.

    See the module notes for the choices. Raises ``ValueError`` on settings that cannot work.
    """
    if n_spirals < 2 or n_spirals % 2:
        raise ValueError(f"n_spirals must be an even number >= 2 (half per direction), "
                         f"got {n_spirals}")
    if not 1 <= n_observed <= n_window:
        raise ValueError(f"n_observed must be in [1, n_window = {n_window}], got {n_observed}")
    if n_extrapolate < 0:
        raise ValueError(f"n_extrapolate must be >= 0, got {n_extrapolate}")
    if not (noise_std >= 0 and math.isfinite(noise_std)):
        raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std}")
    low, high = start_range
    if not 0 < low <= high:
        raise ValueError(f"start_range must satisfy 0 < low <= high (r = bθ > 0), "
                         f"got {start_range}")
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")

    times = torch.arange(n_window + n_extrapolate, dtype=DTYPE) * step
    direction = torch.ones(n_spirals, dtype=DTYPE)
    direction[: n_spirals // 2] = -1.0
    direction = direction[torch.randperm(n_spirals, generator=generator)]
    theta0 = low + (high - low) * torch.rand(n_spirals, generator=generator, dtype=DTYPE)
    clean = spiral_points(theta0[:, None] + times[None, :], direction, b=b)
    noisy = clean + noise_std * torch.randn(clean.shape, generator=generator, dtype=DTYPE)
    # n of the window's indices without replacement: the first n of a random permutation, sorted.
    keys = torch.rand(n_spirals, n_window, generator=generator)
    observed = keys.argsort(dim=1)[:, :n_observed].sort(dim=1).values
    return Spirals(times, clean, noisy, direction, theta0, observed, n_window, float(noise_std), b)


def train_test_split(data: Spirals, *, test_fraction: float = 0.2,
                     generator: torch.Generator) -> tuple[Spirals, Spirals]:
    """A random split into (train, test); the test part has round(test_fraction · N) spirals."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = round(test_fraction * len(data))
    if not 0 < n_test < len(data):
        raise ValueError(f"test_fraction {test_fraction} of {len(data)} spirals "
                         "leaves a split empty")
    order = torch.randperm(len(data), generator=generator)
    return data.subset(order[n_test:]), data.subset(order[:n_test])


__all__ = ["OBSERVED_CHOICES", "STEP", "Spirals", "make_spirals", "spiral_points",
           "spiral_velocity", "train_test_split"]
