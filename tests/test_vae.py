"""The Berg et al. (2018) VAE behind FFJORD's VAE table: shapes, sizes, ELBO and IS-NLL."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from replication.flows import FLOWS
from replication.models import count_parameters
from replication.vae import (
    VAE,
    bits_per_dim,
    importance_sampled_nll,
    log_likelihood,
    log_standard_normal,
    negative_elbo,
)

MNIST = ((1, 28, 28), "bernoulli")
CALTECH = ((1, 28, 28), "bernoulli")
FREY = ((1, 28, 20), "categorical256")


def _binary(shape, *, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full(shape, 0.3), generator=g)


def _frey(shape, *, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).float() / 255


def _images(image_shape, likelihood, batch, *, seed=0):
    make = _binary if likelihood == "bernoulli" else _frey
    return make((batch, *image_shape), seed=seed)


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("width, context", [(1.0, 256), (0.25, 64)])
@pytest.mark.parametrize(
    "image_shape, likelihood", [MNIST, FREY, CALTECH], ids=["mnist", "frey", "caltech"]
)
def test_shapes(image_shape, likelihood, width, context):
    torch.manual_seed(0)
    model = VAE(image_shape=image_shape, likelihood=likelihood, latent_dim=64, width=width)
    x = _images(image_shape, likelihood, 3)
    mean, var, h = model.encode(x)
    assert mean.shape == var.shape == (3, 64) and h.shape == (3, context)
    assert model.context_dim == context and (var > 0).all()
    out = model(x)
    expected = (3, *image_shape) if likelihood == "bernoulli" else (3, 256, *image_shape)
    assert out.logits.shape == expected == model.decode(out.zk).shape
    assert out.z0.shape == out.zk.shape == (3, 64) and out.log_det.shape == (3,)
    assert torch.equal(out.z0, out.zk) and torch.equal(out.log_det, torch.zeros(3))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        VAE(image_shape=(1, 28, 28), likelihood="gaussian")
    with pytest.raises(ValueError):
        VAE(image_shape=(1, 30, 28), likelihood="bernoulli")


def test_frey_variance_is_clamped_to_reference_range():
    model = VAE(image_shape=(1, 28, 20), likelihood="categorical256", width=0.25)
    x = _frey((2, 1, 28, 20))
    linear = model.var_head[0]
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.fill_(50.0)
        assert torch.allclose(model.encode(x)[1], torch.full((2, 64), 7.0))
        linear.bias.fill_(-50.0)
        assert torch.allclose(model.encode(x)[1], torch.full((2, 64), 0.01))


def test_parameter_counts_match_hand_arithmetic():
    # A gated layer holds two convolutions: 2·(c_in·c_out·k_h·k_w + c_out). Width 1, D = 64.
    #
    # Encoder                                          MNIST (7×7 last)   Frey (7×5 last)
    #   1→32   5×5: 2·(1·32·25  + 32)  = 2·832     =     1,664             1,664
    #   32→32  5×5: 2·(32·32·25 + 32)  = 2·25,632  =    51,264            51,264
    #   32→64  5×5: 2·(32·64·25 + 64)  = 2·51,264  =   102,528           102,528
    #   64→64  5×5: 2·(64·64·25 + 64)  = 2·102,464 =   204,928           204,928
    #   64→64  5×5:                                =   204,928           204,928
    #   64→256 7×7: 2·(64·256·49 + 256) = 2·803,072 = 1,606,144
    #          7×5: 2·(64·256·35 + 256) = 2·573,696 =                  1,147,392
    #   encoder total                               = 2,171,456         1,712,704
    # Heads: μ = Linear(256→64): 256·64 + 64 = 16,448; σ² the same: 2·16,448 = 32,896 (both)
    # Decoder
    #   64→64  7×7: 2·(64·64·49 + 64)  = 2·200,768 =   401,536
    #          7×5: 2·(64·64·35 + 64)  = 2·143,424 =                    286,848
    #   64→64  5×5:                                =   204,928           204,928
    #   64→32  5×5: 2·(64·32·25 + 32)  = 2·51,232  =   102,464           102,464
    #   32→32  5×5 (three layers): 3·51,264         =   153,792           153,792
    #   decoder total                               =   862,720           748,032
    # Output
    #   Bernoulli 1×1 Conv 32→1: 32 + 1             =        33
    #   categorical: Conv 32→256 5×5: 32·256·25 + 256 = 205,056
    #                Conv 1×1 256→256: 256·256 + 256  =  65,792           270,848
    # Total MNIST: 2,171,456 + 32,896 + 862,720 + 33      = 3,067,105
    # Total Frey:  1,712,704 + 32,896 + 748,032 + 270,848 = 2,764,480
    mnist = VAE(image_shape=(1, 28, 28), likelihood="bernoulli", latent_dim=64)
    frey = VAE(image_shape=(1, 28, 20), likelihood="categorical256", latent_dim=64)
    assert count_parameters(mnist.encoder) == 2_171_456
    assert count_parameters(frey.encoder) == 1_712_704
    assert count_parameters(mnist.decoder) == 862_720
    assert count_parameters(frey.decoder) == 748_032
    assert count_parameters(mnist) == 3_067_105
    assert count_parameters(frey) == 2_764_480


# --------------------------------------------------------------------------- objective


def test_bernoulli_and_categorical_log_likelihoods():
    g = torch.Generator().manual_seed(0)
    x = _binary((2, 1, 4, 4))
    logits = torch.randn(2, 1, 4, 4, generator=g)
    p = torch.sigmoid(logits)
    manual = (x * p.log() + (1 - x) * (1 - p).log()).sum((1, 2, 3))
    assert torch.allclose(log_likelihood(logits, x, likelihood="bernoulli"), manual, atol=1e-5)

    xf = _frey((2, 1, 4, 3))
    uniform = torch.zeros(2, 256, 1, 4, 3)
    expected = torch.full((2,), -12 * math.log(256))
    assert torch.allclose(log_likelihood(uniform, xf, likelihood="categorical256"), expected)
    # All the mass on the true intensity round(255·x) gives log-likelihood ≈ 0.
    peaked = torch.full((2, 256, 1, 4, 3), -1e4)
    peaked.scatter_(1, torch.round(xf * 255).long().unsqueeze(1), 0.0)
    assert log_likelihood(peaked, xf, likelihood="categorical256").abs().max() < 1e-6


def test_bits_per_dim():
    nats = 4.53 * 28 * 20 * math.log(2)
    assert bits_per_dim(nats, image_shape=(1, 28, 20)) == pytest.approx(4.53)
    as_tensor = bits_per_dim(torch.tensor([nats, 2 * nats]), image_shape=(1, 28, 20))
    assert torch.allclose(as_tensor, torch.tensor([4.53, 9.06]))


@pytest.mark.parametrize("image_shape, likelihood", [MNIST, FREY], ids=["mnist", "frey"])
def test_elbo_terms_are_finite_and_beta_scales_only_the_kl(image_shape, likelihood):
    torch.manual_seed(0)
    model = VAE(image_shape=image_shape, likelihood=likelihood, width=0.25)
    x = _images(image_shape, likelihood, 4)
    terms = {
        beta: negative_elbo(model, x, beta=beta, generator=torch.Generator().manual_seed(3))
        for beta in (1.0, 0.25, 0.0)
    }
    full = terms[1.0]
    for t in (full.reconstruction, full.kl, full.loss):
        assert t.shape == (4,) and torch.isfinite(t).all()
    assert (full.reconstruction > 0).all()
    assert torch.allclose(full.loss, full.reconstruction + full.kl)
    for beta, t in terms.items():
        assert torch.equal(t.reconstruction, full.reconstruction)
        assert torch.equal(t.kl, full.kl)
        assert torch.allclose(t.loss, full.reconstruction + beta * full.kl)


def test_identity_flow_kl_matches_closed_form_gaussian_kl_in_expectation():
    torch.manual_seed(0)
    model = VAE(image_shape=(1, 28, 28), likelihood="bernoulli", latent_dim=8, width=0.125)
    with torch.no_grad():  # a posterior visibly different from the prior
        model.mean_head.bias.fill_(0.7)
        model.var_head[0].bias.fill_(-1.0)
    x = _binary((4, 1, 28, 28)).repeat(500, 1, 1, 1)
    with torch.no_grad():
        mean, var, _ = model.encode(x[:4])
        closed = 0.5 * (mean.pow(2) + var - 1 - var.log()).sum(-1)
        kl = negative_elbo(model, x, generator=torch.Generator().manual_seed(0)).kl.view(500, 4)
    estimate, stderr = kl.mean(0), kl.std(0) / math.sqrt(500)
    assert (closed > 1.0).all()
    assert ((estimate - closed).abs() < 4 * stderr).all(), (estimate, closed, stderr)


# --------------------------------------------------------------------------- flows and gradients


# Test-sized hyperparameters for flows whose defaults (the papers' sizes) are slow on a CPU;
# any other registered flow is built with its defaults.
SMALL_FLOW_OPTIONS = {"ffjord": {"hidden_dims": (32,), "rank": 2, "num_blocks": 1}}


@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_every_registered_flow_builds_and_gradients_reach_every_part(flow):
    torch.manual_seed(0)
    model = VAE(image_shape=(1, 28, 28), likelihood="bernoulli", width=0.125, flow=flow,
                flow_options=SMALL_FLOW_OPTIONS.get(flow))
    x = _binary((3, 1, 28, 28))
    out = model(x)
    assert out.zk.shape == (3, 64) and out.log_det.shape == (3,)
    assert torch.isfinite(out.log_det).all()
    negative_elbo(model, x).loss.mean().backward()
    for part in (model.encoder, model.mean_head, model.var_head, model.decoder, model.output_head):
        for name, p in part.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    flow_parameters = list(model.flow.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in flow_parameters)
    if flow_parameters:
        assert sum(p.grad.abs().sum() for p in flow_parameters) > 0
    nll = importance_sampled_nll(model, x, samples=5, chunk=2)
    assert nll.shape == (3,) and torch.isfinite(nll).all()


def test_importance_sampling_on_the_vae_is_chunk_invariant_and_grad_free():
    torch.manual_seed(0)
    model = VAE(image_shape=(1, 28, 20), likelihood="categorical256", width=0.125)
    x = _frey((2, 1, 28, 20))
    a, b = (
        importance_sampled_nll(model, x, samples=9, chunk=chunk,
                               generator=torch.Generator().manual_seed(5))
        for chunk in (4, 9)
    )
    assert not a.requires_grad and torch.allclose(a, b, rtol=1e-5)


# ------------------------------------------------------------ IS on a linear-Gaussian model


class LinearGaussian(nn.Module):
    """p(z) = N(0, I_D), p(x|z) = N(Wz + b, s²I_P): log p(x) = log N(x; b, WWᵀ + s²I) exactly.

    The posterior is N(m(x), Σ) with Σ = (I + WᵀW/s²)⁻¹ and m(x) = Σ Wᵀ(x − b)/s².
    ``exact=True``: base N(0, I) and flow z_K = m(x) + L z_0 (LLᵀ = Σ, log_det = Σ log L_dd),
    so q_K is the exact posterior. Otherwise q is a diagonal Gaussian with a shifted mean and
    variance 1.5·λ_max(Σ) (wide enough that the importance weights have finite variance) and
    no flow.
    """

    def __init__(self, *, exact: bool, seed: int, latent: int = 3, observed: int = 5,
                 noise_var: float = 0.5):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(observed, latent, generator=g, dtype=torch.float64)
        self.b = torch.randn(observed, generator=g, dtype=torch.float64)
        self.noise_var = noise_var
        eye = torch.eye(latent, dtype=torch.float64)
        self.post_cov = torch.linalg.inv(eye + self.W.T @ self.W / noise_var)
        self.L = torch.linalg.cholesky(self.post_cov)
        self.q_var = 1.5 * torch.linalg.eigvalsh(self.post_cov).max().item()
        self.exact = exact

    def encode(self, x):
        m = (x - self.b) @ self.W @ self.post_cov.T / self.noise_var
        if self.exact:
            return torch.zeros_like(m), torch.ones_like(m), m
        return m + 0.3, torch.full_like(m, self.q_var), m

    def flow(self, z, context):
        if self.exact:
            log_det = torch.log(torch.diagonal(self.L)).sum().expand(z.shape[0])
            return context + z @ self.L.T, log_det
        return z, z.new_zeros(z.shape[0])

    def log_px_given_z(self, x, z):
        r = x - z @ self.W.T - self.b
        return -0.5 * (r.pow(2) / self.noise_var + math.log(2 * math.pi * self.noise_var)).sum(-1)

    def log_prior(self, z):
        return log_standard_normal(z)

    def log_marginal(self, x):
        cov = self.W @ self.W.T + self.noise_var * torch.eye(self.W.shape[0], dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)

    def sample_x(self, n, *, generator):
        z = torch.randn(n, self.W.shape[1], generator=generator, dtype=torch.float64)
        noise = torch.randn(n, self.W.shape[0], generator=generator, dtype=torch.float64)
        return z @ self.W.T + self.b + math.sqrt(self.noise_var) * noise


def test_is_estimate_converges_to_the_closed_form_marginal():
    model = LinearGaussian(exact=False, seed=0)
    g = torch.Generator().manual_seed(1)
    x = model.sample_x(4, generator=g)
    nll = importance_sampled_nll(model, x, samples=20_000, chunk=5_000, generator=g)
    assert nll.dtype == torch.float64
    assert (nll + model.log_marginal(x)).abs().max() < 0.05


@pytest.mark.parametrize("samples, chunk", [(1, 1), (2, 5), (17, 5)])
def test_is_estimate_is_exact_with_the_exact_posterior(samples, chunk):
    model = LinearGaussian(exact=True, seed=0)
    g = torch.Generator().manual_seed(2)
    x = model.sample_x(6, generator=g)
    nll = importance_sampled_nll(model, x, samples=samples, chunk=chunk, generator=g)
    assert (nll + model.log_marginal(x)).abs().max() < 1e-6
    elbo = negative_elbo(model, x, generator=g).loss
    assert (elbo + model.log_marginal(x)).abs().max() < 1e-6


def test_chunking_does_not_change_the_estimate():
    model = LinearGaussian(exact=False, seed=0)
    x = model.sample_x(5, generator=torch.Generator().manual_seed(3))

    def estimate(chunk, seed=4):
        generator = torch.Generator().manual_seed(seed)
        return importance_sampled_nll(model, x, samples=50, chunk=chunk, generator=generator)

    estimates = [estimate(chunk) for chunk in (1, 7, 50, 64)]
    for other in estimates[1:]:
        assert (other - estimates[0]).abs().max() < 1e-10
    assert (estimate(7, seed=5) - estimates[0]).abs().max() > 1e-6


@pytest.mark.parametrize("seed", [0, 1])
def test_elbo_below_is_bounds_below_log_marginal_on_average(seed):
    """E[−ELBO] ≥ E[IS-NLL, S=10] ≥ E[IS-NLL, S=100] ≥ −log p(x), up to 3 standard errors."""
    model = LinearGaussian(exact=False, seed=seed)
    g = torch.Generator().manual_seed(10 + seed)
    x = model.sample_x(1000, generator=g)
    chain = [
        negative_elbo(model, x, generator=g).loss,
        importance_sampled_nll(model, x, samples=10, chunk=10, generator=g),
        importance_sampled_nll(model, x, samples=100, chunk=30, generator=g),
        -model.log_marginal(x),
    ]
    for upper, lower in zip(chain, chain[1:]):
        gap = upper - lower
        assert gap.mean() > -3 * gap.std() / math.sqrt(len(gap)), (gap.mean(), gap.std())
    assert (chain[0] - chain[1]).mean() > 1.0  # q is visibly imperfect: the bounds are not trivial
