"""NFE counting and adjoint gradients on ODEs small enough to check exactly."""
import re

import pytest
import torch
from torch import nn

from replication.ode import CountedFunction, NFECounter, integrate


class Linear(nn.Module):
    """dz/dt = A z, with A learnable."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, t, z):
        return z @ self.a.T


class Holder(nn.Module):
    def __init__(self, dynamics):
        super().__init__()
        self.func = CountedFunction(dynamics)


def _a() -> torch.Tensor:
    return torch.tensor([[-0.5, 1.0], [-1.0, -0.3]], dtype=torch.float64)


def _solve(holder, z0, *, gradient, method="dopri5", options=None, tol=1e-3):
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    return integrate(holder.func, z0, t, method=method, rtol=tol, atol=tol, gradient=gradient,
                     options=options)[-1]


def test_fixed_step_nfe_is_steps_times_stages():
    holder = Holder(Linear(_a()))
    counter = NFECounter(holder)
    z0 = torch.ones(1, 2, dtype=torch.float64)
    counter.start()
    z1 = _solve(holder, z0, gradient="adjoint", method="rk4", options={"step_size": 0.125})
    counter.mark_forward()
    z1.sum().backward()
    counter.mark_backward()
    assert counter.forward == 8 * 4           # 8 steps of the 4-stage rule
    assert counter.backward == 8 * 4          # the adjoint retraces the same grid backwards


def test_backprop_through_solver_makes_no_backward_evaluations():
    holder = Holder(Linear(_a()))
    counter = NFECounter(holder)
    counter.start()
    z1 = _solve(holder, torch.ones(1, 2, dtype=torch.float64), gradient="backprop")
    counter.mark_forward()
    z1.sum().backward()
    counter.mark_backward()
    assert counter.forward > 0
    assert counter.backward == 0


def test_dopri5_nfe_is_two_plus_six_per_step():
    """torchdiffeq's dopri5: 2 evaluations choose the first step, then 6 per (FSAL) step."""
    holder = Holder(Linear(_a()))
    counter = NFECounter(holder)
    for tol in (1e-2, 1e-4, 1e-6):
        counter.start()
        _solve(holder, torch.ones(1, 2, dtype=torch.float64), gradient="backprop", tol=tol)
        counter.mark_forward()
        assert (counter.forward - 2) % 6 == 0, counter.forward


def test_dopri5_solution_matches_matrix_exponential():
    holder = Holder(Linear(_a()))
    z0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    exact = z0 @ torch.linalg.matrix_exp(_a()).T
    with torch.no_grad():
        z1 = _solve(holder, z0, gradient="backprop", tol=1e-9)
    torch.testing.assert_close(z1, exact, rtol=1e-7, atol=1e-7)


def test_adjoint_gradients_match_direct_backprop():
    torch.manual_seed(0)
    dynamics = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).double()

    class Autonomous(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = dynamics

        def forward(self, t, z):
            return self.net(z)

    holder = Holder(Autonomous())
    z0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    grads = {}
    for gradient in ("adjoint", "backprop"):
        holder.zero_grad()
        z0.grad = None
        loss = (_solve(holder, z0, gradient=gradient, tol=1e-10) ** 2).sum()
        loss.backward()
        grads[gradient] = [z0.grad.clone()] + [p.grad.clone() for p in holder.parameters()]
    for adjoint, direct in zip(grads["adjoint"], grads["backprop"]):
        torch.testing.assert_close(adjoint, direct, rtol=1e-6, atol=1e-8)


def test_adjoint_gradient_matches_finite_differences():
    holder = Holder(Linear(_a()))
    z0 = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    loss = _solve(holder, z0, gradient="adjoint", tol=1e-10).pow(2).sum()
    (grad,) = torch.autograd.grad(loss, [holder.func.dynamics.a])
    eps = 1e-6
    numeric = torch.zeros_like(grad)
    for i in range(2):
        for j in range(2):
            shifted = {}
            for sign in (1, -1):
                a = _a()
                a[i, j] += sign * eps
                z1 = z0 @ torch.linalg.matrix_exp(a).T
                shifted[sign] = z1.pow(2).sum()
            numeric[i, j] = (shifted[1] - shifted[-1]) / (2 * eps)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-7)


def test_unknown_gradient_mode_is_rejected():
    holder = Holder(Linear(_a()))
    with pytest.raises(ValueError, match="gradient must be"):
        _solve(holder, torch.ones(1, 2, dtype=torch.float64), gradient="magic")


def test_odenet_counts_forward_and_backward_nfe():
    from replication.models import build_model

    torch.manual_seed(0)
    for name, backward_expected in (("odenet", True), ("rknet", False)):
        model = build_model(name, downsampling="conv", width=8)
        counter = NFECounter(model)
        counter.start()
        loss = model(torch.rand(2, 1, 28, 28)).sum()
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        assert counter.forward >= 8 and (counter.forward - 2) % 6 == 0
        assert (counter.backward > 0) is backward_expected


# --- Bounded solver work (issue 13, point 6) ---

def test_an_impossible_tolerance_fails_fast_with_the_step_limit_message():
    """rtol = atol = 1e-13 in float32 cannot be met: the solve stops at the limit, in seconds."""
    import time

    from replication.ode.solve import StepLimitError

    holder = Holder(Linear(_a().float()))
    z0 = torch.tensor([[1.0, 0.5]])
    t = torch.tensor([0.0, 1.0])
    start = time.perf_counter()
    with pytest.raises(StepLimitError, match=r"dopri5 needed more than 200 steps at t=[0-9.e-]+ "
                                             r".*raise rtol/atol or the limit"):
        integrate(holder.func, z0, t, method="dopri5", rtol=1e-13, atol=1e-13,
                  gradient="backprop", max_num_steps=200)
    assert holder.func.calls <= 6 * 200 + 10  # stopped at the limit, not after
    assert time.perf_counter() - start < 60


def test_the_step_limit_comes_from_the_environment(monkeypatch):
    from replication.experiments.base import ODE_MAX_STEPS_ENV
    from replication.ode.solve import MAX_STEPS_ENV, StepLimitError

    assert ODE_MAX_STEPS_ENV == MAX_STEPS_ENV  # the Snakefile sets what integrate reads
    monkeypatch.setenv(MAX_STEPS_ENV, "5")
    holder = Holder(Linear(_a()))
    with pytest.raises(StepLimitError, match="more than 5 steps"):
        _solve(holder, torch.tensor([[1.0, 0.5]], dtype=torch.float64), gradient="backprop",
               tol=1e-10)
    monkeypatch.setenv(MAX_STEPS_ENV, "0")
    with pytest.raises(ValueError, match="positive integer"):
        _solve(holder, torch.tensor([[1.0, 0.5]], dtype=torch.float64), gradient="backprop")


def test_the_step_limit_also_bounds_the_adjoint_solve():
    """At 1e-9 this system takes 15 forward and 19 adjoint steps: a limit of 16 stops the backward."""
    from replication.ode.solve import StepLimitError

    holder = Holder(Linear(_a()))
    z0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    z1 = integrate(holder.func, z0, t, method="dopri5", rtol=1e-9, atol=1e-9, gradient="adjoint",
                   max_num_steps=16)[-1]
    with pytest.raises(StepLimitError, match=r"more than 16 steps at t=[0-9.e-]+ \(adjoint solve"):
        z1.sum().backward()


def test_a_solve_under_the_limit_is_unchanged():
    holder = Holder(Linear(_a()))
    z0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    free = integrate(holder.func, z0, t, method="dopri5", rtol=1e-8, atol=1e-8,
                     gradient="backprop", max_num_steps=10**9)
    bounded = integrate(holder.func, z0, t, method="dopri5", rtol=1e-8, atol=1e-8,
                        gradient="backprop", max_num_steps=1000)
    assert torch.equal(free, bounded)


def test_a_slow_solve_prints_progress(monkeypatch, capsys):
    from replication.ode import solve

    monkeypatch.setattr(solve, "PROGRESS_SECONDS", 0.0)
    holder = Holder(Linear(_a()))
    _solve(holder, torch.tensor([[1.0, 0.5]], dtype=torch.float64), gradient="backprop")
    printed = capsys.readouterr().err
    assert re.search(r"dopri5 forward solve: t=[0-9.e-]+ of \[0, 1\], \d+ steps", printed)
