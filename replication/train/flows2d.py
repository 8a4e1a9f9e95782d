"""Training 2-D flows: by KL(q‖p) to an energy (Figure 4) or by maximum likelihood (Figure 5).

``model`` is an :class:`~replication.flows.density_models.NFDensity` or
:class:`~replication.flows.density_models.CNFDensity`. Every step draws fresh samples from a
generator seeded by ``seed`` (base samples z₀ for KL, data for maximum likelihood). Optimizers:
``"adam"`` or ``"rmsprop"`` (the paper: Adam for the CNF, 10,000 iterations; RMSprop for the NF,
500,000 iterations, after Rezende & Mohamed; learning rates and batch sizes are unstated, so they
are required keywords). The dtype is the model's. Returns plain histories; a non-finite loss
stops the run with ``FloatingPointError`` (never a plain number from a diverged run).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from replication.data.energies import energy as energy_named
from replication.measure.kl import kl_loss_estimate

OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}


def _optimizer(name: str, parameters, lr: float):
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    return OPTIMIZERS[name](parameters, lr=lr)


def _dtype(model) -> torch.dtype:
    return next(model.parameters()).dtype


def _finite(value: float, iteration: int) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"the loss became {value} at iteration {iteration}: "
                                 "the run diverged")
    return value


def kl_loss(model, target: str, z0: torch.Tensor) -> torch.Tensor:
    """The per-sample log q(x) + U(x) at x = model's push-forward of z₀."""
    x, log_q = model.sample(z0)
    return log_q + energy_named(target)(x)


def train_density_matching(model, target: str, *, optimizer: str, iterations: int, lr: float,
                           batch_size: int, seed: int, log_every: int = 1) -> list[dict]:
    """Minimise E_q[log q + U_target] over fresh base samples; one row per ``log_every``."""
    energy_named(target)  # a clear error for an unknown target before any work
    opt = _optimizer(optimizer, model.parameters(), lr)
    generator = torch.Generator().manual_seed(seed)
    dtype, history, start = _dtype(model), [], time.perf_counter()
    for iteration in range(1, iterations + 1):
        z0 = model.base_std * torch.randn(batch_size, 2, generator=generator, dtype=dtype)
        loss = kl_loss(model, target, z0).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = _finite(float(loss.detach()), iteration)
        if iteration % log_every == 0 or iteration == iterations:
            history.append({"iteration": iteration, "loss": value,
                            "seconds": time.perf_counter() - start})
    return history


def evaluate_density_matching(model, target: str, *, samples: int, seed: int,
                              batch_size: int = 10_000) -> dict[str, float]:
    """The loss estimate E_q[log q + U] and its standard error from ``samples`` fresh samples."""
    generator = torch.Generator().manual_seed(seed)
    values = []
    with torch.no_grad():
        for begin in range(0, samples, batch_size):
            count = min(batch_size, samples - begin)
            z0 = model.base_std * torch.randn(count, 2, generator=generator, dtype=_dtype(model))
            x, log_q = model.sample(z0)
            values.append((log_q, energy_named(target)(x)))
    return kl_loss_estimate(torch.cat([v[0] for v in values]), torch.cat([v[1] for v in values]))


def train_max_likelihood(model, data: Callable[..., torch.Tensor], *, optimizer: str,
                         iterations: int, lr: float, batch_size: int, seed: int,
                         log_every: int = 1) -> list[dict]:
    """Maximise mean log q(x) over fresh draws ``data(batch_size, generator=...)`` each step."""
    opt = _optimizer(optimizer, model.parameters(), lr)
    generator = torch.Generator().manual_seed(seed)
    dtype, history, start = _dtype(model), [], time.perf_counter()
    for iteration in range(1, iterations + 1):
        x = data(batch_size, generator=generator).to(dtype)
        loss = -model.log_density(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = _finite(float(loss.detach()), iteration)
        if iteration % log_every == 0 or iteration == iterations:
            history.append({"iteration": iteration, "nll": value,
                            "seconds": time.perf_counter() - start})
    return history


def held_out_log_likelihood(model, x: torch.Tensor, *,
                            batch_size: int = 10_000) -> dict[str, float]:
    """Mean log q(x) over a held-out sample, with its standard error."""
    with torch.no_grad():
        values = torch.cat([model.log_density(x[i:i + batch_size].to(_dtype(model)))
                            for i in range(0, x.shape[0], batch_size)]).to(torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise FloatingPointError("non-finite test log-likelihood: the model diverged")
    return {"log_likelihood": float(values.mean()),
            "stderr": float(values.std() / math.sqrt(values.numel())), "samples": values.numel()}


__all__ = ["OPTIMIZERS", "evaluate_density_matching", "kl_loss", "held_out_log_likelihood",
           "train_density_matching", "train_max_likelihood"]
