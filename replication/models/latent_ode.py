"""The latent ODE of Neural ODE §5 (Table 2, Figures 6 and 8; spec §8.1).

Generative model: z(t₀) ~ p(z) = N(0, I) in ℝ⁴, z(t) solves dz/dt = f(z) (time-invariant), and
each observation is x_i ~ N(g(z(t_i)), σ_x² I). Recognition model: an RNN run **backwards** in
time over the observed pairs (x_i, t_i), from the last observation to the first, whose final
hidden state gives q(z(t₀) | x) = N(μ, diag exp(logvar)). Objective (the paper's ELBO):

    ELBO = Σ_i log p(x_i | z(t_i)) + log p(z(t₀)) − log q(z(t₀) | x),   z(t₀) ~ q (one sample).

What the paper states, and this module follows: a recognition RNN of 25 hidden units; a 4-D
latent; dynamics f with ONE hidden layer of 20 units; a decoder g with ONE hidden layer of 20
units; solver tolerance "the default value of 1.5e-8" (§6), which is SciPy's ``odeint`` default
rtol = atol = 1.49012e-8; the adjoint for gradients.

Where the paper is silent, the choices here (all keywords, defaults as listed):

* RNN cell: an Elman cell h ← tanh(W [input; h] + c), as torchdiffeq's ``latent_ode.py``
  example; input = (x_i, t_i) (the paper's "(x_i, t_i)"; ``time_input=False`` drops t_i);
  h starts at 0; a linear head maps the last hidden state to (μ, logvar).
* t₀ = the start of the observation window (grid time 0), not the first observed time, so all
  spirals of a batch share one solve on the common grid; the likelihood uses the observed points.
* Activations: ELU in f, ReLU in g (as the torchdiffeq example, whose f has two hidden layers).
* The likelihood's σ_x is fixed (``obs_std``), not learned; the trainer sets it (our choice: the
  data's noise σ, as torchdiffeq does).
* −log q + log p(z₀) is taken in closed form (the analytic KL of two Gaussians), which has the
  ELBO's expectation with less variance than the one-sample estimate the formula writes.
* dtype: float64, because a tolerance of 1.5e-8 is below float32's resolution (1.2e-7).
* Solver: dopri5 (``method``), through :func:`replication.ode.integrate`.

Parameter counts (tested): encoder (2+1+25)·25+25 + 25·8+8 = 933 (908 without t_i), dynamics
4·20+20 + 20·4+4 = 184, decoder 4·20+20 + 20·2+2 = 142; total 1,259 (1,234 without t_i).
torchdiffeq's example, with two hidden layers in f and no t_i, has 1,654.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from replication.ode import CountedFunction, integrate
from replication.ode.solve import GradientMode

PAPER_TOLERANCE = 1.5e-8


class ElmanCell(nn.Module):
    """h ← tanh(W [input; h] + c)."""

    def __init__(self, *, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.linear = nn.Linear(input_dim + hidden, hidden)

    def forward(self, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(torch.cat([inputs, h], dim=-1)))


class RecognitionRNN(nn.Module):
    """q(z₀ | x): an Elman RNN read from the last observation back to the first.

    ``forward(x, t)`` with x (B, n, obs_dim) and t (B, n), both in time order, returns
    ``(mean, logvar)`` of shape (B, latent_dim) each.
    """

    def __init__(self, *, obs_dim: int = 2, hidden: int = 25, latent_dim: int = 4,
                 time_input: bool = True) -> None:
        super().__init__()
        self.time_input = time_input
        self.latent_dim = latent_dim
        self.cell = ElmanCell(input_dim=obs_dim + int(time_input), hidden=hidden)
        self.head = nn.Linear(hidden, 2 * latent_dim)

    def inputs(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, t.unsqueeze(-1)], dim=-1) if self.time_input else x

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3 or t.shape != x.shape[:2]:
            raise ValueError(f"expected x (B, n, D) and t (B, n), "
                             f"got {tuple(x.shape)} and {tuple(t.shape)}")
        inputs = self.inputs(x, t)
        h = x.new_zeros(x.shape[0], self.cell.hidden)
        for i in reversed(range(x.shape[1])):  # backwards in time: x_n first, x_1 last
            h = self.cell(inputs[:, i], h)
        mean, logvar = self.head(h).chunk(2, dim=-1)
        return mean, logvar


class LatentDynamics(nn.Module):
    """f(z) = W₂ ELU(W₁ z + c₁) + c₂: one hidden layer, time-invariant."""

    def __init__(self, *, latent_dim: int = 4, hidden: int = 20) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ELU(),
                                 nn.Linear(hidden, latent_dim))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Decoder(nn.Module):
    """g(z) = W₂ ReLU(W₁ z + c₁) + c₂: one hidden layer."""

    def __init__(self, *, latent_dim: int = 4, hidden: int = 20, obs_dim: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, obs_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """Σ over the last dimension of log N(x; mean, std²), elementwise otherwise."""
    return (-0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag e^logvar) ‖ N(0, I)) per row."""
    return 0.5 * (mean**2 + logvar.exp() - 1.0 - logvar).sum(-1)


class LatentODE(nn.Module):
    """Encoder, latent dynamics and decoder; see the module notes for the model and the choices."""

    def __init__(self, *, obs_dim: int = 2, latent_dim: int = 4, rnn_hidden: int = 25,
                 dynamics_hidden: int = 20, decoder_hidden: int = 20, time_input: bool = True,
                 obs_std: float, method: str = "dopri5", rtol: float = PAPER_TOLERANCE,
                 atol: float = PAPER_TOLERANCE, gradient: GradientMode = "adjoint") -> None:
        super().__init__()
        if not obs_std > 0:
            raise ValueError(f"obs_std (the likelihood's σ) must be positive, got {obs_std}")
        self.encoder = RecognitionRNN(obs_dim=obs_dim, hidden=rnn_hidden, latent_dim=latent_dim,
                                      time_input=time_input)
        dynamics = LatentDynamics(latent_dim=latent_dim, hidden=dynamics_hidden)
        self.dynamics = CountedFunction(dynamics)
        self.decoder = Decoder(latent_dim=latent_dim, hidden=decoder_hidden, obs_dim=obs_dim)
        self.obs_std = float(obs_std)
        self.solver = {"method": method, "rtol": rtol, "atol": atol, "gradient": gradient}

    def latent_trajectory(self, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """z(t) at every time of ``times`` (T,), which must start at t₀; shape (B, T, latent)."""
        return integrate(self.dynamics, z0, times, **self.solver).transpose(0, 1)

    def decode(self, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """The mean trajectory g(z(t)) on ``times``, (B, T, obs_dim)."""
        return self.decoder(self.latent_trajectory(z0, times))

    def elbo(self, x: torch.Tensor, t: torch.Tensor, observed: torch.Tensor, times: torch.Tensor,
             *, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-sequence ELBO terms, averaged over the batch.

        ``x`` (B, n, D) and ``t`` (B, n) are the observations in time order, ``observed`` (B, n)
        their indices into the grid ``times`` (T,), which starts at t₀. The noise of z₀'s sample
        comes from ``generator``. Returns ``elbo``, ``log_likelihood`` and ``kl`` (batch means).
        """
        mean, logvar = self.encoder(x, t)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        z0 = mean + (0.5 * logvar).exp() * noise
        predicted = self.decode(z0, times)
        predicted = predicted.gather(1, observed.unsqueeze(-1).expand(-1, -1, predicted.shape[-1]))
        log_likelihood = gaussian_log_likelihood(x, predicted, self.obs_std).sum(-1)
        kl = kl_to_standard_normal(mean, logvar)
        return {"elbo": (log_likelihood - kl).mean(), "log_likelihood": log_likelihood.mean(),
                "kl": kl.mean()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, t: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Reconstruction and extrapolation from the posterior mean of z₀: (B, T, obs_dim)."""
        mean, _ = self.encoder(x, t)
        return self.decode(mean, times)

    @torch.no_grad()
    def latent_paths(self, x: torch.Tensor, t: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """The latent trajectories from the posterior mean of z₀ (Figure 8c): (B, T, latent)."""
        mean, _ = self.encoder(x, t)
        return self.latent_trajectory(mean, times)


def rmse(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """sqrt(mean of squared errors over every point and coordinate)."""
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: predicted {tuple(predicted.shape)}, "
                         f"target {tuple(target.shape)}")
    return float(((predicted - target) ** 2).mean().sqrt())


__all__ = ["Decoder", "ElmanCell", "LatentDynamics", "LatentODE", "PAPER_TOLERANCE",
           "RecognitionRNN", "gaussian_log_likelihood", "kl_to_standard_normal", "rmse"]
