"""Reversibility of ODE solves (Neural ODE §6; spec §8.4): forward, then back, and NFE vs batching.

The paper "informally checked that reversing many layers of continuous normalizing flows with
default tolerances recovered the initial states" and that minibatching "did not increase NFE
substantially"; neither has a number. :func:`round_trip` solves dz/dt = f(t, z) from t₀ to t₁
and then from t₁ back to t₀ with the same solver and tolerances, and reports how far the result is
from the start (an exact solver returns it exactly, since the flow map is invertible), with the
NFE of each direction. :func:`batch_versus_single_nfe` solves one batch at once and then each
example alone, and reports the NFE of both.

``func`` is any ``nn.Module`` f(t, z) on a tensor state whose first dimension is the batch (an
ODE-Net block's dynamics, a CNF's velocity); it is wrapped in a fresh
:class:`~replication.ode.CountedFunction` here. Everything runs under ``torch.no_grad()``.
"""
from __future__ import annotations

import torch
from torch import nn

from replication.ode.counting import CountedFunction
from replication.ode.solve import integrate


def _solve(counted: CountedFunction, state: torch.Tensor, t0: float, t1: float, solver: dict):
    grid = torch.tensor([t0, t1], dtype=state.dtype, device=state.device)
    before = counted.calls
    end = integrate(counted, state, grid, gradient="backprop", **solver)[-1]
    return end, counted.calls - before


@torch.no_grad()
def round_trip(func: nn.Module, state: torch.Tensor, *, t0: float, t1: float,
               method: str = "dopri5", rtol: float, atol: float) -> dict[str, float]:
    """Errors of z(t₀) recovered by solving t₀ → t₁ → t₀, and the NFE of each leg.

    ``max_abs_error`` is over all elements, ``max_relative_error`` the largest per-example
    ‖back − z‖ / ‖z‖, ``rms_error`` the root mean square over all elements.
    """
    counted = CountedFunction(func)
    solver = {"method": method, "rtol": rtol, "atol": atol}
    end, nfe_forward = _solve(counted, state, t0, t1, solver)
    back, nfe_backward = _solve(counted, end, t1, t0, solver)
    error = (back - state).flatten(1)
    size = state.flatten(1).norm(dim=1).clamp_min(torch.finfo(state.dtype).tiny)
    relative = error.norm(dim=1) / size
    return {"max_abs_error": float(error.abs().max()),
            "rms_error": float(error.pow(2).mean().sqrt()),
            "max_relative_error": float(relative.max()), "nfe_forward": nfe_forward,
            "nfe_backward": nfe_backward, "rtol": rtol, "atol": atol, "batch": state.shape[0]}


@torch.no_grad()
def batch_versus_single_nfe(func: nn.Module, state: torch.Tensor, *, t0: float, t1: float,
                            method: str = "dopri5", rtol: float, atol: float) -> dict[str, float]:
    """NFE of one solve of the whole batch, and of each example solved alone (mean and max)."""
    counted = CountedFunction(func)
    solver = {"method": method, "rtol": rtol, "atol": atol}
    _, nfe_batch = _solve(counted, state, t0, t1, solver)
    singles = [_solve(counted, state[i:i + 1], t0, t1, solver)[1] for i in range(state.shape[0])]
    return {"nfe_batch": nfe_batch, "nfe_single_mean": sum(singles) / len(singles),
            "nfe_single_max": max(singles), "nfe_single_min": min(singles), "batch": state.shape[0]}


__all__ = ["batch_versus_single_nfe", "round_trip"]
