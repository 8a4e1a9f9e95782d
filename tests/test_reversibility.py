"""§6 reversibility: a forward-then-backward solve returns the start, to the tolerance."""
import torch
from torch import nn

from replication.ode.planar_cnf import PlanarCNFDynamics
from replication.ode.reversibility import batch_versus_single_nfe, round_trip

F64 = torch.float64


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.matrix = torch.tensor([[0.2, -1.5], [1.1, -0.4]], dtype=F64)

    def forward(self, t, z):
        return z @ self.matrix.T


def _z(n=16):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=F64)


def test_round_trip_error_shrinks_with_the_tolerance_to_zero():
    errors = [round_trip(Linear(), _z(), t0=0.0, t1=2.0, rtol=tol, atol=tol)["max_abs_error"]
              for tol in (1e-3, 1e-6, 1e-9)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-7 and errors[0] < 1e-1


def test_round_trip_of_a_planar_cnf_and_its_nfe():
    torch.manual_seed(0)
    dynamics = PlanarCNFDynamics(width=8).to(F64)
    result = round_trip(dynamics, _z(), t0=0.0, t1=1.0, rtol=1e-5, atol=1e-5)
    assert result["max_relative_error"] < 1e-3
    assert result["nfe_forward"] > 0 and result["nfe_backward"] > 0 and result["batch"] == 16


def test_single_examples_are_solved_one_at_a_time():
    result = batch_versus_single_nfe(Linear(), _z(5), t0=0.0, t1=1.0, rtol=1e-6, atol=1e-6)
    assert result["batch"] == 5
    assert result["nfe_single_min"] <= result["nfe_single_mean"] <= result["nfe_single_max"]
    assert result["nfe_batch"] > 0
