"""Planar CNF and planar NF of Neural ODE Figures 4–5: exact traces, log-dets and densities."""
import math

import pytest
import torch
from torch import nn

from replication.data.energies import ENERGIES, FIGURE4_TARGETS, energy, log_normalizer
from replication.data.two_d import sample as sample_2d
from replication.data.two_d import two_circles, two_moons
from replication.flows.density_models import CNFDensity, NFDensity
from replication.flows.planar_nf import PlanarNF
from replication.measure.kl import kl_loss_estimate
from replication.models import count_parameters
from replication.ode.exact_flow import ExactTraceFlow, standard_normal_log_density
from replication.ode.planar_cnf import PlanarCNFDynamics
from replication.train.flows2d import (evaluate_density_matching, held_out_log_likelihood,
                                       train_density_matching, train_max_likelihood)

F64 = torch.float64


def _points(n=5, seed=0, scale=1.5):
    return scale * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _planar_cnf(width=8, seed=0):
    torch.manual_seed(seed)
    return PlanarCNFDynamics(width=width).to(F64)


def test_planar_cnf_parameter_count_by_hand():
    for width in (2, 8, 32, 64):
        hyper = (1 * 32 + 32) + (32 * 32 + 32) + (32 * width * 6 + width * 6)  # 1→32→32→M(2D+2)
        assert count_parameters(PlanarCNFDynamics(width=width)) == hyper
    assert count_parameters(PlanarCNFDynamics(width=64)) == 13_792


@pytest.mark.parametrize("t", [0.0, 0.37, 1.0])
def test_planar_cnf_exact_trace_equals_the_autograd_jacobian_trace(t):
    dynamics = _planar_cnf()
    time = torch.tensor(t, dtype=F64)
    z = _points()
    with torch.no_grad():
        _, trace = dynamics.velocity_and_trace(time, z)
    for i in range(z.shape[0]):
        jacobian = torch.autograd.functional.jacobian(lambda x: dynamics(time, x[None])[0], z[i])
        assert float(trace[i]) == pytest.approx(float(torch.trace(jacobian)), abs=1e-12)


def test_planar_cnf_sums_gated_units():
    dynamics = _planar_cnf(width=3)
    time = torch.tensor(0.2, dtype=F64)
    z = _points(n=2)
    w, u, b, gate = dynamics.unit_parameters(time)
    assert bool(((gate > 0) & (gate < 1)).all())
    expected = sum(gate[n] * torch.tanh(z @ w[n] + b[n])[:, None] * u[n] for n in range(3))
    assert torch.allclose(dynamics(time, z), expected, atol=1e-14)


class LinearDynamics(nn.Module):
    """dz/dt = A z, whose flow map is expm(A t) and whose trace is tr A."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        self.matrix = nn.Parameter(matrix)

    def velocity_and_trace(self, t, z):
        return z @ self.matrix.T, torch.trace(self.matrix).expand(z.shape[0])


@pytest.mark.parametrize("gradient", ["adjoint", "backprop"])
def test_cnf_with_linear_dynamics_gives_the_closed_form_density(gradient):
    matrix = torch.tensor([[0.3, -1.1], [0.7, -0.2]], dtype=F64)
    T, base_std = 0.8, 0.7
    model = CNFDensity(ExactTraceFlow(LinearDynamics(matrix), rtol=1e-10, atol=1e-10, gradient=gradient),
                       T=T, base_std=base_std)
    flow_map = torch.linalg.matrix_exp(matrix * T)
    # z(T) = M z(0), z(0) ~ N(0, s² I)  ⇒  z(T) ~ N(0, s² M Mᵀ)
    closed_form = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=F64),
                                                         base_std**2 * flow_map @ flow_map.T)
    x = _points(n=7)
    with torch.no_grad():
        assert torch.allclose(model.log_density(x), closed_form.log_prob(x), atol=1e-8)
        z0 = _points(n=7, seed=1, scale=base_std)
        samples, log_q = model.sample(z0)
        assert torch.allclose(samples, z0 @ flow_map.T, atol=1e-8)
        assert torch.allclose(log_q, closed_form.log_prob(samples), atol=1e-8)


def test_planar_cnf_evaluates_its_own_samples_at_their_sampled_density():
    model = CNFDensity(ExactTraceFlow(_planar_cnf(), rtol=1e-9, atol=1e-9), T=1.0)
    with torch.no_grad():
        x, log_q = model.sample(_points(n=6, scale=1.0))
        assert torch.allclose(model.log_density(x), log_q, atol=1e-6)
        path = model.trajectory(_points(n=6, scale=1.0), torch.tensor([0.0, 0.05, 0.2, 1.0]))
    assert path.shape == (4, 6, 2) and torch.allclose(path[-1], x, atol=1e-6)


def _nf(layers=5, seed=0, init_std=1.0):
    return PlanarNF(num_layers=layers, init_std=init_std, generator=torch.Generator().manual_seed(seed)).to(F64)


def test_planar_nf_log_det_equals_slogdet_of_the_autograd_jacobian():
    flow = _nf()
    with torch.no_grad():
        flow.b.copy_(torch.linspace(-0.5, 0.5, 5))
    z = _points(n=6)
    _, log_det = flow(z)
    for i in range(z.shape[0]):
        jacobian = torch.autograd.functional.jacobian(lambda x: flow(x[None])[0][0], z[i])
        sign, logabsdet = torch.linalg.slogdet(jacobian)
        assert float(sign) == 1.0  # wᵀû > −1 keeps every layer orientation-preserving
        assert float(log_det[i].detach()) == pytest.approx(float(logabsdet), abs=1e-12)
    assert count_parameters(flow) == 5 * (2 * 2 + 1)


def test_planar_nf_inverse_undoes_forward():
    flow = _nf(layers=8)
    z = _points(n=10, scale=2.0)
    y, _ = flow(z)
    assert torch.allclose(flow.inverse(y), z, atol=1e-10)


def _grid_mass(log_density, limit=7.0, size=280):
    width = 2 * limit / size
    axis = -limit + width * (torch.arange(size, dtype=F64) + 0.5)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        return float(log_density(grid).exp().sum() * width**2)


def test_normalizing_planar_nf_density_integrates_to_one():
    model = NFDensity(_nf(layers=4, init_std=0.8), direction="normalizing")
    assert _grid_mass(model.log_density) == pytest.approx(1.0, abs=2e-3)
    with pytest.raises(ValueError, match="normalizing"):
        NFDensity(_nf(), direction="generative").log_density(_points())


def test_generative_planar_nf_log_q_is_base_minus_log_det():
    flow = _nf()
    z0 = _points()
    x, log_q = NFDensity(flow, direction="generative").sample(z0)
    assert torch.allclose(log_q, standard_normal_log_density(z0) - flow(z0)[1])
    assert torch.allclose(x, flow(z0)[0])


def test_energies_are_rezende_mohamed_and_the_wall_only_acts_outside_the_strip():
    z = torch.tensor([[0.5, 1.0], [-3.9, 0.2]], dtype=F64)
    w1 = torch.sin(2 * math.pi * z[:, 0] / 4)
    assert torch.allclose(energy("U2")(z), 0.5 * ((z[:, 1] - w1) / 0.4) ** 2)
    outside = torch.tensor([[4.3, 0.0]], dtype=F64)
    wave = torch.sin(torch.tensor(2 * math.pi * 4.3 / 4, dtype=F64))
    assert float(energy("U2")(outside)) == pytest.approx(float(0.5 * (wave / 0.4) ** 2 + 0.5 * 9.0))
    ring = torch.tensor([[2.0, 0.0]], dtype=F64)
    expected = -math.log(math.exp(0.0) + math.exp(-0.5 * (4 / 0.6) ** 2))
    assert float(energy("U1")(ring)) == pytest.approx(expected)
    assert set(FIGURE4_TARGETS) <= set(ENERGIES)
    with pytest.raises(ValueError, match="unknown energy"):
        energy("U9")


def test_log_normalizer_matches_the_closed_form_of_u2():
    # ∫ exp(−U2) = [8 + 0.1·√(2π)] · 0.4·√(2π): the strip |z₁| ≤ 4, two half-Gaussian walls.
    closed = math.log((8 + 0.1 * math.sqrt(2 * math.pi)) * 0.4 * math.sqrt(2 * math.pi))
    assert log_normalizer("U2") == pytest.approx(closed, abs=1e-5)
    assert log_normalizer("U1", size=600) == pytest.approx(log_normalizer("U1", size=1200), abs=1e-5)


def test_kl_estimate_is_minus_log_z_with_zero_error_when_q_is_p():
    z = _points(n=1000, scale=1.0)
    # q = N(0, I), p ∝ exp(−½‖z‖²): log q + U = −log 2π for every sample.
    estimate = kl_loss_estimate(standard_normal_log_density(z), 0.5 * (z**2).sum(-1))
    assert estimate["loss"] == pytest.approx(-math.log(2 * math.pi), abs=1e-12)
    assert estimate["stderr"] < 1e-12 and estimate["samples"] == 1000
    noisy = kl_loss_estimate(torch.zeros(4, dtype=F64), torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64))
    assert noisy["stderr"] == pytest.approx(float(torch.tensor([1.0, 2, 3, 4]).std()) / 2)
    with pytest.raises(FloatingPointError, match="non-finite"):
        kl_loss_estimate(torch.tensor([0.0, float("nan")]), torch.zeros(2))


def test_kl_estimate_of_a_flow_is_above_minus_log_z():
    model = NFDensity(_nf(layers=2, init_std=0.1), direction="generative")
    estimate = evaluate_density_matching(model, "U1", samples=4000, seed=0)
    assert estimate["loss"] + log_normalizer("U1") > 0  # KL(q‖p) ≥ 0


def test_density_matching_lowers_the_loss_of_both_flows():
    nf = NFDensity(_nf(layers=4, init_std=0.1), direction="generative")
    before = evaluate_density_matching(nf, "U1", samples=2000, seed=1)["loss"]
    train_density_matching(nf, "U1", optimizer="rmsprop", iterations=150, lr=1e-2, batch_size=128, seed=0)
    assert evaluate_density_matching(nf, "U1", samples=2000, seed=1)["loss"] < before - 0.5
    cnf = CNFDensity(ExactTraceFlow(_planar_cnf(width=4), rtol=1e-3, atol=1e-3))
    before = evaluate_density_matching(cnf, "U1", samples=2000, seed=1)["loss"]
    history = train_density_matching(cnf, "U1", optimizer="adam", iterations=20, lr=2e-2, batch_size=128,
                                     seed=0, log_every=10)
    assert [row["iteration"] for row in history] == [10, 20]
    assert evaluate_density_matching(cnf, "U1", samples=2000, seed=1)["loss"] < before


def test_maximum_likelihood_raises_the_held_out_likelihood():
    model = NFDensity(_nf(layers=8, init_std=0.1), direction="normalizing", base_std=1.0)
    test = two_moons(2000, generator=torch.Generator().manual_seed(9))
    before = held_out_log_likelihood(model, test)["log_likelihood"]
    train_max_likelihood(model, two_moons, optimizer="adam", iterations=150, lr=1e-2, batch_size=256, seed=0)
    after = held_out_log_likelihood(model, test)
    assert after["log_likelihood"] > before + 0.2 and after["stderr"] > 0


class _Diverging(nn.Module):
    base_std = 1.0

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones((), dtype=F64))

    def sample(self, z0):
        return z0 * self.scale, (z0 * self.scale).sum(-1) * float("nan")


def test_a_diverged_run_raises_instead_of_returning_a_number():
    with pytest.raises(FloatingPointError, match="diverged"):
        train_density_matching(_Diverging(), "U1", optimizer="adam", iterations=3, lr=1e-3, batch_size=4, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        train_density_matching(_Diverging(), "U1", optimizer="sgd", iterations=1, lr=1e-3, batch_size=4, seed=0)


def test_two_d_data_are_seeded_and_shaped_as_stated():
    a = two_circles(20_000, generator=torch.Generator().manual_seed(0))
    b = sample_2d("two_circles", 20_000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (20_000, 2) and a.dtype == F64
    radius = a.norm(dim=1)
    outer, inner = radius[radius > 0.75], radius[radius <= 0.75]
    assert abs(float(outer.mean()) - 1.0) < 0.01 and abs(float(inner.mean()) - 0.5) < 0.01
    assert abs(outer.numel() / 20_000 - 0.5) < 0.02
    moons = two_moons(20_000, generator=torch.Generator().manual_seed(1))
    assert float(moons.mean(0).abs().max()) < 0.03  # centred
    with pytest.raises(ValueError, match="unknown data set"):
        sample_2d("two_spirals", 3, generator=torch.Generator())
