"""Peak memory is measured from real allocations."""
import torch

from replication.measure.memory import CPU_METHOD, peak_memory


def test_peak_counts_live_bytes_not_total_allocations():
    def work():
        a = torch.empty(1000, 1000)       # 4,000,000 bytes
        b = torch.empty(500, 1000)        # +2,000,000 bytes: peak 6,000,000
        del a
        c = torch.empty(250, 1000)        # 3,000,000 live: below the peak
        return b, c

    measured = peak_memory(work, device=torch.device("cpu"))
    assert measured.method == CPU_METHOD
    assert 6_000_000 <= measured.bytes < 6_000_000 + 64_000


def test_memory_allocated_before_the_work_is_excluded():
    held = torch.empty(2000, 1000)  # noqa: F841 - 8 MB live throughout
    measured = peak_memory(lambda: torch.empty(100, 1000), device=torch.device("cpu"))
    assert 400_000 <= measured.bytes < 500_000


def test_backprop_through_many_solver_steps_costs_more_memory_than_the_adjoint():
    """The paper's O(L̃) vs O(1) claim on a tiny model with a fixed number of steps."""
    from torch import nn

    from replication.ode import CountedFunction, integrate

    class Autonomous(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, 64), nn.Tanh())

        def forward(self, t, z):
            return self.net(z)

    torch.manual_seed(0)
    func = CountedFunction(Autonomous())
    z0 = torch.randn(256, 64)
    t = torch.tensor([0.0, 1.0])

    def step(gradient, steps):
        def work():
            z1 = integrate(func, z0, t, method="rk4", rtol=1e-3, atol=1e-3, gradient=gradient,
                           options={"step_size": 1.0 / steps})[-1]
            z1.pow(2).sum().backward()
        return peak_memory(work, device=torch.device("cpu")).bytes

    backprop = [step("backprop", n) for n in (4, 32)]
    adjoint = [step("adjoint", n) for n in (4, 32)]
    assert backprop[1] > 4 * backprop[0]               # grows with the number of steps
    assert adjoint[1] < 1.2 * adjoint[0]               # does not
