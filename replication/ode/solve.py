"""One entry point to the ODE solvers (torchdiffeq) with explicit gradient mode and bounded work.

Every adaptive solve (dopri5, dopri8, bosh3, adaptive_heun, fehlberg2) has a step limit: more
than ``max_num_steps`` step attempts in one solve (forward, or the adjoint's backward solve)
stops it with :class:`StepLimitError` — "dopri5 needed more than N steps at t=…; raise
rtol/atol or the limit" — instead of running for hours at a tolerance it cannot meet. The
limit comes from the config key ``ode_max_num_steps``, which the Snakefile hands every job as
``$REPLICATION_ODE_MAX_STEPS``; a caller may also pass it. A solve that takes long prints its
progress (t, steps, seconds) to stderr every ``PROGRESS_SECONDS``.

The limit never changes a result that stays under it (the callbacks only count), so it is not
part of any run's spec.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Literal, Sequence

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

GradientMode = Literal["adjoint", "backprop"]

ADAPTIVE_METHODS = frozenset({"dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2"})
MAX_STEPS_ENV = "REPLICATION_ODE_MAX_STEPS"
DEFAULT_MAX_NUM_STEPS = 2_000  # config key ode_max_num_steps overrides it
PROGRESS_SECONDS = 30.0


class StepLimitError(RuntimeError):
    """An adaptive solve needed more steps than its limit."""


def max_num_steps_from_env() -> int:
    """``$REPLICATION_ODE_MAX_STEPS`` (set from config key ``ode_max_num_steps``), else the default."""
    value = os.environ.get(MAX_STEPS_ENV)
    if value in (None, ""):
        return DEFAULT_MAX_NUM_STEPS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"${MAX_STEPS_ENV}={value!r}: the ODE step limit must be a positive "
                         "integer (config key ode_max_num_steps)")
    return limit


class _StepWatch(nn.Module):
    """Wraps the dynamics; counts solver steps through torchdiffeq's step callbacks.

    The wrapped module is a submodule, so the adjoint's default ``adjoint_params`` (the
    function's parameters) are unchanged; the dynamics themselves are called as they are.
    """

    def __init__(self, func: nn.Module, *, method: str, limit: int, span: tuple[float, float],
                 rtol: float, atol: float) -> None:
        super().__init__()
        self.func = func
        self.method, self.limit, self.span, self.rtol, self.atol = method, limit, span, rtol, atol
        self.steps = {"forward": 0, "adjoint": 0}
        self.start = self.last_report = time.perf_counter()

    def forward(self, t, z):
        return self.func(t, z)

    def _step(self, solve: str, t0) -> None:
        self.steps[solve] += 1
        if self.steps[solve] > self.limit:
            raise StepLimitError(
                f"{self.method} needed more than {self.limit} steps at t={float(t0.detach()):.6g} "
                f"({solve} solve over [{self.span[0]:g}, {self.span[1]:g}], rtol={self.rtol:g}, "
                f"atol={self.atol:g}); raise rtol/atol or the limit (config key "
                f"ode_max_num_steps, ${MAX_STEPS_ENV})")
        now = time.perf_counter()
        if now - self.last_report >= PROGRESS_SECONDS:
            self.last_report = now
            print(f"{self.method} {solve} solve: t={float(t0.detach()):.6g} of [{self.span[0]:g}, {self.span[1]:g}]"
                  f", {self.steps[solve]} steps, {now - self.start:.0f}s", file=sys.stderr,
                  flush=True)

    def callback_step(self, t0, y0, dt) -> None:
        self._step("forward", t0)

    def callback_step_adjoint(self, t0, y0, dt) -> None:
        self._step("adjoint", t0)


def integrate(
    func: nn.Module,
    z0: torch.Tensor | tuple[torch.Tensor, ...],
    t: torch.Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    gradient: GradientMode,
    options: dict | None = None,
    max_num_steps: int | None = None,
    adjoint_params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Solve dz/dt = func(t, z) from ``t[0]``, returning z at every time in ``t``.

    ``gradient="adjoint"`` computes gradients by solving the adjoint ODE backwards
    in time (constant memory in the number of solver steps); ``"backprop"``
    differentiates through the solver's operations (memory grows with steps).
    Adaptive methods stop with :class:`StepLimitError` after *max_num_steps* steps
    (default: :func:`max_num_steps_from_env`). *adjoint_params*: the tensors the adjoint
    differentiates (default: ``func``'s parameters).
    """
    if gradient not in ("adjoint", "backprop"):
        raise ValueError(f"gradient must be 'adjoint' or 'backprop', got {gradient!r}")
    if gradient == "adjoint" and adjoint_params is None and not isinstance(func, nn.Module):
        raise ValueError("the adjoint needs func to be an nn.Module, or adjoint_params")
    if method in ADAPTIVE_METHODS:
        limit = max_num_steps if max_num_steps is not None else max_num_steps_from_env()
        span = (float(t[0]), float(t[-1]))
        func = _StepWatch(func, method=method, limit=limit, span=span, rtol=rtol, atol=atol)
    if gradient == "adjoint":
        return odeint_adjoint(func, z0, t, method=method, rtol=rtol, atol=atol, options=options,
                              adjoint_params=adjoint_params)
    return odeint(func, z0, t, method=method, rtol=rtol, atol=atol, options=options)
