"""Counting function evaluations (NFE) of an ODE's dynamics.

The forward NFE (NFE-F) is the number of evaluations made while solving forward;
the backward NFE (NFE-B) is the number made while the adjoint system is solved
backwards. With direct backpropagation through the solver the dynamics are not
called again during ``backward()``, so NFE-B is 0 by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class CountedFunction(nn.Module):
    """Wraps dynamics ``f(t, z)`` and counts how often they are evaluated."""

    def __init__(self, dynamics: nn.Module) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.dynamics(t, z)


@dataclass
class NFECounter:
    """Splits the calls of every :class:`CountedFunction` in a model into NFE-F and NFE-B.

    Use as::

        counter = NFECounter(model)
        counter.start()      # before the forward pass
        loss = ...           # forward
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        counter.forward, counter.backward
    """

    model: nn.Module
    forward: int = 0
    backward: int = 0

    def __post_init__(self) -> None:
        self._functions = [m for m in self.model.modules() if isinstance(m, CountedFunction)]
        self._base = 0

    @property
    def active(self) -> bool:
        """Whether the model has any ODE dynamics to count."""
        return bool(self._functions)

    def _total(self) -> int:
        return sum(f.calls for f in self._functions)

    def start(self) -> None:
        self._base = self._total()
        self.forward = self.backward = 0

    def mark_forward(self) -> None:
        self.forward = self._total() - self._base

    def mark_backward(self) -> None:
        self.backward = self._total() - self._base - self.forward
