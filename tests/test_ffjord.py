"""FFJORD as a VAE posterior flow: trace estimators, the CNF solver, the amortized flow."""
import copy
import inspect

import pytest
import torch
from torch import nn

from replication.flows import FLOWS, build_flow
from replication.flows import ffjord as ffjord_module
from replication.flows.ffjord import CNF, AmortizedLowRankODENet, FFJORDFlow
from replication.ode import NFECounter
from replication.ode.trace import exact_trace, hutchinson_trace, sample_noise

DT = torch.float64
TIGHT = dict(rtol=1e-10, atol=1e-10)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


class LinearDynamics(nn.Module):
    """dz/dt = A z: z(T) = expm(AT) z0 and log|det expm(AT)| = T tr(A)."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, t, z):
        return z @ self.a.T


class Nonlinear(nn.Module):
    """A small nonlinear f(z) with a dense Jacobian, for the trace estimators."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        g = _gen(1)
        self.w = torch.randn(dim, 8, dtype=DT, generator=g)
        self.m = torch.randn(8, dim, dtype=DT, generator=g) / 2

    def forward(self, z):
        return torch.tanh(z @ self.w) @ self.m + z ** 3 / 3


def _jacobian_trace(f, z):
    return torch.stack([torch.trace(torch.autograd.functional.jacobian(f, row)) for row in z])


def _small_flow(**hyper) -> FFJORDFlow:
    """A small flow in float64 whose amortization heads are randomized (so that U, V, b̂ ≠ 0
    and gradients reach the context; the default initialization has U = b̂ = 0)."""
    torch.manual_seed(0)
    options = dict(hidden_dims=(16, 16), rank=2, num_blocks=2, **TIGHT)
    options.update(hyper)
    flow = build_flow("ffjord", latent_dim=3, context_dim=5, **options).to(DT)
    with torch.no_grad():
        for head in flow.heads:
            head.weight.normal_(0.0, 0.1, generator=_gen(2))
            head.bias.normal_(0.0, 0.1, generator=_gen(3))
    return flow


def _inputs(batch=4, dim=3, context=5):
    g = _gen(4)
    return (torch.randn(batch, dim, dtype=DT, generator=g),
            torch.randn(batch, context, dtype=DT, generator=g))


# --- trace estimators ------------------------------------------------------------------------

def test_exact_trace_matches_autograd_jacobian_loop_and_vectorized():
    f = Nonlinear(5)
    z = torch.randn(3, 5, dtype=DT, generator=_gen()).requires_grad_(True)
    out = f(z)
    expected = _jacobian_trace(f, z.detach())
    torch.testing.assert_close(exact_trace(out, z), expected)
    torch.testing.assert_close(exact_trace(out, z, vectorize=True), expected)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_hutchinson_is_unbiased_with_the_expected_variance(kind):
    dim, draws = 5, 40_000
    f = Nonlinear(dim)
    z0 = torch.randn(1, dim, dtype=DT, generator=_gen())
    jac = torch.autograd.functional.jacobian(f, z0[0])
    exact = torch.trace(jac)
    z = z0.expand(draws, dim).clone().requires_grad_(True)  # one independent ε per row
    torch.manual_seed(5)
    noise = sample_noise(z, kind)
    if kind == "rademacher":
        assert set(noise.unique().tolist()) == {-1.0, 1.0}
    estimates = hutchinson_trace(f(z), z, noise)
    std_error = estimates.std() / draws ** 0.5
    assert abs(estimates.mean() - exact) < 4 * std_error
    variance = 0.5 * ((jac + jac.T) ** 2).sum()
    if kind == "rademacher":
        variance = variance - 2 * (torch.diagonal(jac) ** 2).sum()
    assert estimates.var() == pytest.approx(variance.item(), rel=0.05)


# --- the CNF solver --------------------------------------------------------------------------

def test_linear_cnf_matches_matrix_exponential():
    a = torch.randn(4, 4, dtype=DT, generator=_gen()) * 0.7
    cnf = CNF(LinearDynamics(a), T=0.5, **TIGHT).to(DT).eval()
    z0 = torch.randn(6, 4, dtype=DT, generator=_gen(1))
    zT, log_det = cnf(z0)
    flow_map = torch.linalg.matrix_exp(0.5 * a)
    torch.testing.assert_close(zT, z0 @ flow_map.T, rtol=1e-8, atol=1e-8)
    closed_form = 0.5 * torch.trace(a)
    assert torch.allclose(torch.linalg.slogdet(flow_map).logabsdet, closed_form)
    torch.testing.assert_close(log_det, closed_form.expand(6), rtol=1e-8, atol=1e-8)


def test_cnf_forward_then_reverse_returns_to_its_input():
    torch.manual_seed(0)
    net = AmortizedLowRankODENet(3, (16, 16), rank=2).to(DT)
    amortized = 0.1 * torch.randn(5, net.amortized_size, dtype=DT, generator=_gen())
    cnf = CNF(net, T=0.5, **TIGHT).to(DT).eval()
    z0 = torch.randn(5, 3, dtype=DT, generator=_gen(1))
    zT, forward_log_det = cnf(z0, net.split(amortized))
    z_back, reverse_log_det = cnf(zT, net.split(amortized), reverse=True)
    assert (zT - z0).abs().max() > 1e-2  # the flow does move the samples
    torch.testing.assert_close(z_back, z0, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(forward_log_det + reverse_log_det, torch.zeros(5, dtype=DT),
                               rtol=0, atol=1e-7)


def test_hutchinson_noise_is_fixed_within_each_solve(monkeypatch):
    calls = []
    real = ffjord_module.hutchinson_trace

    def recording(f, z, noise, **kw):
        calls.append((id(noise), noise.detach().clone()))
        return real(f, z, noise, **kw)

    monkeypatch.setattr(ffjord_module, "hutchinson_trace", recording)
    flow = _small_flow(rtol=1e-6, atol=1e-6).train()
    z0, context = _inputs()
    z_k, log_det = flow(z0, context)
    forward_calls = len(calls)
    (z_k.pow(2).sum() + log_det.sum()).backward()     # adjoint: evaluations during backward too
    assert len(calls) > forward_calls > 2 * len(flow.blocks)
    ids = {i for i, _ in calls}
    assert len(ids) == len(flow.blocks)                # one ε per block's solve, reused by
    for noise_id in ids:                               # every forward and backward evaluation
        values = [v for i, v in calls if i == noise_id]
        assert all(torch.equal(v, values[0]) for v in values)
    first = {i: v for i, v in calls}
    calls.clear()
    flow(z0, context)                                  # a new forward pass draws new noise
    assert not any(torch.equal(v, old) for _, v in calls for old in first.values())


def test_eval_mode_log_det_is_exact_slogdet_of_the_flow_jacobian():
    flow = _small_flow(gradient="backprop").eval()
    z0, context = _inputs()
    jac = torch.autograd.functional.jacobian(lambda z: flow(z, context)[0], z0,
                                             vectorize=True)  # (B, D, B, D)
    per_sample = torch.stack([jac[b, :, b, :] for b in range(z0.shape[0])])
    expected = torch.linalg.slogdet(per_sample).logabsdet
    _, log_det = flow(z0, context)
    assert expected.abs().max() > 1e-2                 # a non-trivial volume change
    torch.testing.assert_close(log_det, expected, rtol=1e-6, atol=1e-6)
    with torch.no_grad():                              # evaluation loops may run under no_grad
        torch.testing.assert_close(flow(z0, context)[1], log_det.detach(), rtol=0, atol=1e-12)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="no_grad"):
        flow(z0, context)                              # ...but not under inference_mode


@pytest.mark.parametrize("training", [True, False])
def test_adjoint_gradients_equal_backprop_gradients(training):
    adjoint = _small_flow(train_T=True).train(training)
    backprop = copy.deepcopy(adjoint)
    for block in backprop.blocks:
        block.gradient = "backprop"
    grads = []
    for flow in (adjoint, backprop):
        z0, context = (x.requires_grad_(True) for x in _inputs())
        torch.manual_seed(7)                           # the same Hutchinson ε in both runs
        z_k, log_det = flow(z0, context)
        (z_k.pow(2).sum() + (z_k * context[:, :3]).sum() - log_det.sum()).backward()
        named = {n: p.grad for n, p in flow.named_parameters()}
        grads.append({"z0": z0.grad, "context": context.grad, **named})
    assert grads[0]["context"].abs().max() > 1e-3      # the encoder features get a gradient
    assert grads[0]["blocks.0.odefunc.dynamics.log_T"].abs() > 0
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert grads[0][name] is not None, name
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-5, atol=1e-7,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("gradient", ["adjoint", "backprop"])
def test_nfe_forward_and_backward_are_counted(gradient):
    flow = _small_flow(gradient=gradient, rtol=1e-5, atol=1e-5).train()
    counter = NFECounter(flow)
    assert counter.active
    z0, context = _inputs()
    counter.start()
    z_k, log_det = flow(z0, context)
    counter.mark_forward()
    (z_k.sum() + log_det.sum()).backward()
    counter.mark_backward()
    assert counter.forward > 0
    assert (counter.backward > 0) == (gradient == "adjoint")
    assert flow.calls == counter.forward + counter.backward


def test_shapes_registry_and_hyperparameters():
    assert "ffjord" in FLOWS
    flow = build_flow("ffjord", latent_dim=4, context_dim=6, hidden_dims="8-8", rank=3,
                      num_blocks=3, nonlinearity="tanh", noise="rademacher")
    assert len(flow.blocks) == len(flow.heads) == 3
    d_in, d_out = 4 + 8 + 8, 8 + 8 + 4
    assert flow.heads[0].out_features == (d_in + d_out) * 3 + d_out   # spec §3.2 head size
    assert flow.heads[0].in_features == 6
    assert float(flow.blocks[0].T) == 0.5
    for mode in (True, False):
        flow.train(mode)
        z_k, log_det = flow(torch.randn(7, 4), torch.randn(7, 6))
        assert z_k.shape == (7, 4) and log_det.shape == (7,)
        assert z_k.dtype == log_det.dtype == torch.float32
    defaults = {k: p.default for k, p in inspect.signature(FFJORDFlow).parameters.items()}
    assert {k: defaults[k] for k in ("hidden_dims", "rank", "num_blocks", "nonlinearity", "T",
                                     "train_T", "method", "rtol", "atol", "gradient", "noise")} == {
        "hidden_dims": (1024, 1024), "rank": 64, "num_blocks": 2, "nonlinearity": "softplus",
        "T": 0.5, "train_T": False, "method": "dopri5", "rtol": 1e-5, "atol": 1e-5,
        "gradient": "adjoint", "noise": "gaussian"}    # spec §3.2, MNIST row
    with pytest.raises(ValueError):
        build_flow("ffjord", latent_dim=4, context_dim=6, gradient="euler")
