"""Training and evaluation of the latent ODE and the RNN baselines on spirals (Table 2).

Both trainers take a model and a :class:`~replication.data.spirals.Spirals` training set and
return plain histories; keyword-only hyperparameters, no defaults for what the paper leaves
open (iterations, learning rate, batch size: the experiment states its choice). Adam is the
optimizer for both (the paper names none; torchdiffeq's example uses Adam at 0.01, full batch).
The ELBO's solve stops at the end of the observation window (training never sees the
extrapolation points, nor needs z there). Minibatches (``batch_size`` < N) are drawn without
replacement from a generator seeded by ``seed``; ``batch_size=None`` is the full batch. The
latent ODE's z₀ noise comes from the same generator. All tensors are float64 (see :mod:`replication.models.latent_ode`).

RMSE (``evaluate_*``), per coordinate over all points of all spirals of the set, against the
noisy and the clean points: ``observed`` (the points the model read: the latent ODE's
reconstruction; the RNN's one-step-ahead prediction of points 2…n), ``window`` (all
n_window points, the latent ODE only: interpolation) and ``extrapolation`` (the n_extrapolate
points after the window, from the observed points alone). The paper's Table 2 is "predictive
RMSE on test set", read here as ``extrapolation`` (spec §8.1).
"""
from __future__ import annotations

import math
import time

import torch

from replication.data.spirals import Spirals
from replication.models.latent_ode import LatentODE, rmse
from replication.models.rnn_baseline import RNNBaseline


def _batches(n: int, batch_size: int | None, generator: torch.Generator) -> torch.Tensor:
    if batch_size is None or batch_size >= n:
        return torch.arange(n)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")
    return torch.randperm(n, generator=generator)[:batch_size]


def _check(iterations: int, lr: float) -> None:
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")


def _finite(value: float, what: str, iteration: int) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"{what} became {value} at iteration {iteration}: "
                                 "the run diverged")
    return value


def train_latent_ode(model: LatentODE, data: Spirals, *, iterations: int, lr: float,
                     batch_size: int | None, seed: int, log_every: int = 1) -> list[dict]:
    """Maximise the ELBO with Adam; one history row per ``log_every`` iterations."""
    _check(iterations, lr)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x_all, t_all = data.observations()
    window_times = data.times[: data.n_window]  # the likelihood needs the window only
    history = []
    start = time.perf_counter()
    for iteration in range(1, iterations + 1):
        index = _batches(len(data), batch_size, generator)
        calls = model.dynamics.calls
        terms = model.elbo(x_all[index], t_all[index], data.observed[index], window_times,
                           generator=generator)
        nfe_forward = model.dynamics.calls - calls
        optimizer.zero_grad()
        (-terms["elbo"]).backward()
        optimizer.step()
        elbo = _finite(float(terms["elbo"].detach()), "the ELBO", iteration)
        if iteration % log_every == 0 or iteration == iterations:
            history.append({"iteration": iteration, "elbo": elbo,
                            "log_likelihood": float(terms["log_likelihood"].detach()),
                            "kl": float(terms["kl"].detach()),
                            "nfe_forward": nfe_forward,
                            "nfe_backward": model.dynamics.calls - calls - nfe_forward,
                            "seconds": time.perf_counter() - start})
    return history


def train_rnn(model: RNNBaseline, data: Spirals, *, iterations: int, lr: float,
              batch_size: int | None, seed: int, log_every: int = 1) -> list[dict]:
    """Minimise the one-step-ahead Gaussian NLL with Adam; one row per ``log_every`` iterations."""
    _check(iterations, lr)
    if data.n_observed < 2:
        raise ValueError("the RNN needs at least 2 observed points per spiral to predict one")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x_all, t_all = data.observations()
    history = []
    start = time.perf_counter()
    for iteration in range(1, iterations + 1):
        index = _batches(len(data), batch_size, generator)
        loss = model.negative_log_likelihood(x_all[index], t_all[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = _finite(float(loss.detach()), "the RNN's NLL", iteration)
        if iteration % log_every == 0 or iteration == iterations:
            history.append({"iteration": iteration, "nll": value,
                            "seconds": time.perf_counter() - start})
    return history


def _observed_points(data: Spirals, *, clean: bool) -> torch.Tensor:
    source = data.clean if clean else data.noisy
    return source.gather(1, data.observed.unsqueeze(-1).expand(-1, -1, 2))


def evaluate_latent_ode(model: LatentODE, data: Spirals) -> dict[str, float]:
    """RMSE of reconstruction, interpolation and extrapolation (noisy and clean targets)."""
    x, t = data.observations()
    predicted = model.predict(x, t, data.times)
    observed = predicted.gather(1, data.observed.unsqueeze(-1).expand(-1, -1, 2))
    window, future = predicted[:, : data.n_window], predicted[:, data.n_window:]
    result = {}
    for clean, suffix in ((False, "noisy"), (True, "clean")):
        result[f"rmse_observed_{suffix}"] = rmse(observed, _observed_points(data, clean=clean))
        result[f"rmse_window_{suffix}"] = rmse(window, data.window(clean=clean))
        result[f"rmse_extrapolation_{suffix}"] = rmse(future, data.extrapolation(clean=clean))
    return result


def evaluate_rnn(model: RNNBaseline, data: Spirals) -> dict[str, float]:
    """RMSE of the one-step-ahead predictions of points 2…n and of the extrapolation."""
    x, t = data.observations()
    with torch.no_grad():
        one_step = model(x, t)
    future = model.extrapolate(x, t, data.times[data.n_window:])
    result = {}
    for clean, suffix in ((False, "noisy"), (True, "clean")):
        target = _observed_points(data, clean=clean)[:, 1:]
        result[f"rmse_observed_{suffix}"] = rmse(one_step, target)
        result[f"rmse_extrapolation_{suffix}"] = rmse(future, data.extrapolation(clean=clean))
    return result


__all__ = ["evaluate_latent_ode", "evaluate_rnn", "train_latent_ode", "train_rnn"]
