"""The RNN baselines of Neural ODE Table 2 (§5.1; spec §8.1).

The paper: an RNN of 25 hidden units "trained to minimise negative Gaussian log-likelihood", and
a second version with "the time difference to the next observation" concatenated to its inputs;
which one the table's RNN row reports is not stated, so both exist here (``time_input``).

Choices where the paper is silent:

* Cell: the Elman cell of the latent ODE's encoder, h ← tanh(W [input; h] + c), h₀ = 0, read
  **forwards** in time; a linear head maps h_i to the mean of the next observation.
* Input at step i: x_i (plain) or (x_i, t_{i+1} − t_i) (with Δt). Output: the mean of x_{i+1}.
* Likelihood: N(x_{i+1}; mean, σ_x² I) with σ_x fixed (``obs_std``), the same noise model as the
  latent ODE's; so the loss is a scaled squared error plus a constant.
* Training sees only the observation window, with teacher forcing (one-step-ahead prediction of
  each observed point from the ones before it), as the latent ODE sees only the window.
* Extrapolation: after the last observation the RNN runs on its own predictions over the
  requested future times (Δt to the first future time from the last observation, then the grid's
  spacing); the plain version cannot be told these gaps at all, which is the point of the baseline.

Parameter counts (tested): plain (2+25)·25+25 + 25·2+2 = 752; with Δt (3+25)·25+25 + 52 = 777.
"""
from __future__ import annotations

import torch
from torch import nn

from replication.models.latent_ode import ElmanCell, gaussian_log_likelihood


class RNNBaseline(nn.Module):
    """One-step-ahead Elman RNN over irregular observations; see the module notes."""

    def __init__(self, *, obs_dim: int = 2, hidden: int = 25, time_input: bool,
                 obs_std: float) -> None:
        super().__init__()
        if not obs_std > 0:
            raise ValueError(f"obs_std (the likelihood's σ) must be positive, got {obs_std}")
        self.time_input = time_input
        self.obs_std = float(obs_std)
        self.cell = ElmanCell(input_dim=obs_dim + int(time_input), hidden=hidden)
        self.head = nn.Linear(hidden, obs_dim)

    def step(self, x: torch.Tensor, gap: torch.Tensor,
             h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Read x (B, D) whose next point is ``gap`` (B,) later; return (next mean, new h)."""
        inputs = torch.cat([x, gap.unsqueeze(-1)], dim=-1) if self.time_input else x
        h = self.cell(inputs, h)
        return self.head(h), h

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Teacher-forced means of x_2 … x_n from x_1 … x_{n−1}: (B, n − 1, D)."""
        if x.ndim != 3 or t.shape != x.shape[:2]:
            raise ValueError(f"expected x (B, n, D) and t (B, n), "
                             f"got {tuple(x.shape)} and {tuple(t.shape)}")
        h = x.new_zeros(x.shape[0], self.cell.hidden)
        gaps = t[:, 1:] - t[:, :-1]
        means = []
        for i in range(x.shape[1] - 1):
            mean, h = self.step(x[:, i], gaps[:, i], h)
            means.append(mean)
        return torch.stack(means, dim=1)

    def negative_log_likelihood(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean over sequences of −Σ_i log N(x_{i+1}; mean_i, σ_x² I)."""
        return -gaussian_log_likelihood(x[:, 1:], self(x, t), self.obs_std).sum(-1).mean()

    @torch.no_grad()
    def extrapolate(self, x: torch.Tensor, t: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """Read all observations, then predict at the times ``future`` (F,) after t_n: (B, F, D)."""
        if future.ndim != 1 or future.numel() == 0:
            raise ValueError("future must be a non-empty 1-D tensor of times, "
                             f"got shape {tuple(future.shape)}")
        h = x.new_zeros(x.shape[0], self.cell.hidden)
        for i in range(x.shape[1] - 1):
            _, h = self.step(x[:, i], t[:, i + 1] - t[:, i], h)
        last, last_time = x[:, -1], t[:, -1]
        predictions = []
        for time in future:
            last, h = self.step(last, time - last_time, h)
            last_time = torch.full_like(last_time, float(time))
            predictions.append(last)
        return torch.stack(predictions, dim=1)


__all__ = ["RNNBaseline"]
