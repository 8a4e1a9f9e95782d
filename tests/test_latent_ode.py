"""Latent ODE and RNN baselines of Table 2: counts, the backwards encoder, gradients, RMSE."""
import pytest
import torch

from replication.data.spirals import make_spirals
from replication.models import count_parameters
from replication.models.latent_ode import (LatentODE, RecognitionRNN, gaussian_log_likelihood,
                                           kl_to_standard_normal, rmse)
from replication.models.rnn_baseline import RNNBaseline
from replication.train.latent_ode import (evaluate_latent_ode, evaluate_rnn, train_latent_ode,
                                          train_rnn)

F64 = torch.float64


def _sequence(batch=3, n=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, 2, generator=generator, dtype=F64)
    t = torch.rand(batch, n, generator=generator, dtype=F64).sort(dim=1).values * 3
    return x, t


def _tiny_spirals(n_observed=20):
    # Two noise-free spirals, 20-point window (step 0.1) and 5 extrapolated points.
    return make_spirals(n_spirals=2, n_observed=n_observed, noise_std=0.0, n_window=20,
                        n_extrapolate=5, step=0.1, start_range=(3.0, 3.0),
                        generator=torch.Generator().manual_seed(0))


def test_parameter_counts_by_hand():
    model = LatentODE(obs_std=0.1)
    encoder = (2 + 1 + 25) * 25 + 25 + 25 * 8 + 8  # Elman cell on (x, t, h), head to (μ, logvar)
    dynamics = 4 * 20 + 20 + 20 * 4 + 4  # ONE hidden layer of 20
    decoder = 4 * 20 + 20 + 20 * 2 + 2  # ONE hidden layer of 20
    assert (encoder, dynamics, decoder) == (933, 184, 142)
    assert count_parameters(model.encoder) == encoder
    assert count_parameters(model.dynamics) == dynamics
    assert count_parameters(model.decoder) == decoder
    assert count_parameters(model) == 1259
    assert count_parameters(LatentODE(obs_std=0.1, time_input=False)) == 1259 - 25
    assert count_parameters(RNNBaseline(time_input=False, obs_std=0.1)) == (2 + 25) * 25 + 25 + 25 * 2 + 2 == 752
    assert count_parameters(RNNBaseline(time_input=True, obs_std=0.1)) == (3 + 25) * 25 + 25 + 25 * 2 + 2 == 777


def _manual_encoder(encoder, x, t, order):
    weight, bias = encoder.cell.linear.weight, encoder.cell.linear.bias
    h = x.new_zeros(x.shape[0], 25)
    for i in order:
        h = torch.tanh(torch.cat([x[:, i], t[:, i, None], h], dim=1) @ weight.T + bias)
    return (h @ encoder.head.weight.T + encoder.head.bias).chunk(2, dim=1)


def test_encoder_reads_the_sequence_backwards():
    torch.manual_seed(0)
    encoder = RecognitionRNN().to(F64)
    x, t = _sequence()
    with torch.no_grad():
        mean, logvar = encoder(x, t)
        back_mean, back_logvar = _manual_encoder(encoder, x, t, reversed(range(6)))
        forward_mean, _ = _manual_encoder(encoder, x, t, range(6))
    assert torch.allclose(mean, back_mean, atol=1e-14) and torch.allclose(logvar, back_logvar, atol=1e-14)
    assert float((mean - forward_mean).abs().max()) > 1e-3  # a forward reader would fail above


def test_encoder_output_is_the_reversed_sequence_read_by_its_cell_first_to_last():
    # Independent of the cell's formula: run the cell by hand over the reversed sequence.
    torch.manual_seed(1)
    encoder = RecognitionRNN().to(F64)
    x, t = _sequence(seed=1)
    inputs = encoder.inputs(x, t).flip(1)
    h = x.new_zeros(x.shape[0], 25)
    with torch.no_grad():
        for i in range(inputs.shape[1]):
            h = encoder.cell(inputs[:, i], h)
        assert torch.allclose(torch.cat(encoder(x, t), dim=1), encoder.head(h), atol=1e-14)


def test_elbo_terms_are_the_gaussian_likelihood_and_the_closed_form_kl():
    mean = torch.tensor([[0.3, -0.2]], dtype=F64)
    logvar = torch.tensor([[0.1, -0.4]], dtype=F64)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    assert torch.allclose(kl_to_standard_normal(mean, logvar),
                          torch.distributions.kl_divergence(q, p).sum(-1), atol=1e-14)
    x, mu = torch.randn(4, 2, dtype=F64), torch.randn(4, 2, dtype=F64)
    assert torch.allclose(gaussian_log_likelihood(x, mu, 0.3),
                          torch.distributions.Normal(mu, 0.3).log_prob(x).sum(-1), atol=1e-13)


def _elbo_gradient(data, *, gradient, tolerance):
    x, t = data.observations()
    torch.manual_seed(0)
    model = LatentODE(obs_std=0.1, rtol=tolerance, atol=tolerance, gradient=gradient).to(F64)
    terms = model.elbo(x, t, data.observed, data.times, generator=torch.Generator().manual_seed(3))
    (-terms["elbo"]).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_adjoint_gradient_converges_to_the_backprop_gradient():
    # Same weights, same z₀ noise; the two gradients differ only by solver error, which shrinks
    # with the tolerance (measured: 2e-5 at 1e-6, 4e-8 at 1e-12; ELU makes the adjoint ODE only C¹).
    data = _tiny_spirals(n_observed=8)
    gaps = {}
    for tolerance in (1e-6, 1e-12):
        adjoint = _elbo_gradient(data, gradient="adjoint", tolerance=tolerance)
        backprop = _elbo_gradient(data, gradient="backprop", tolerance=tolerance)
        gaps[tolerance] = float((adjoint - backprop).norm() / backprop.norm())
    assert gaps[1e-12] < 2e-7
    assert gaps[1e-12] < gaps[1e-6] / 10


def test_rmse_is_root_mean_square_over_everything():
    a = torch.zeros(2, 3, 2, dtype=F64)
    b = torch.full((2, 3, 2), 2.0, dtype=F64)
    b[0, 0, 0] = 0.0
    assert rmse(a, b) == pytest.approx((11 * 4 / 12) ** 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rmse(a, b[:, :2])


def test_rnn_predictions_are_causal_and_use_the_time_gaps_only_with_dt():
    torch.manual_seed(0)
    x, t = _sequence()
    later = x.clone()
    later[:, 4] += 1.0
    for time_input in (False, True):
        rnn = RNNBaseline(time_input=time_input, obs_std=0.1).to(F64)
        with torch.no_grad():
            base, changed = rnn(x, t), rnn(later, t)
            stretched = rnn(x, 2 * t)
        assert torch.equal(base[:, :4], changed[:, :4])  # prediction of x_{i+1} sees x_≤i only
        assert not torch.equal(base[:, 4], changed[:, 4])
        assert torch.equal(base, stretched) != time_input  # only the Δt version sees the gaps


def test_rnn_extrapolation_starts_from_the_last_observation():
    torch.manual_seed(0)
    rnn = RNNBaseline(time_input=True, obs_std=0.1).to(F64)
    x, t = _sequence()
    future = torch.tensor([3.5, 3.6], dtype=F64)
    extrapolated = rnn.extrapolate(x, t, future)
    h = x.new_zeros(3, 25)
    with torch.no_grad():
        for i in range(5):
            _, h = rnn.step(x[:, i], t[:, i + 1] - t[:, i], h)
        first, h = rnn.step(x[:, 5], future[0] - t[:, 5], h)
        second, _ = rnn.step(first, future[1] - future[0] + 0 * t[:, 5], h)
    assert torch.allclose(extrapolated, torch.stack([first, second], dim=1), atol=1e-14)


def test_latent_ode_fits_noise_free_spirals_on_a_tiny_case():
    data = _tiny_spirals()
    torch.manual_seed(0)
    model = LatentODE(obs_std=0.05, rtol=1e-3, atol=1e-3, gradient="backprop").to(F64)
    before = evaluate_latent_ode(model, data)["rmse_window_clean"]
    history = train_latent_ode(model, data, iterations=200, lr=0.02, batch_size=None, seed=0,
                               log_every=50)
    after = evaluate_latent_ode(model, data)
    assert [row["iteration"] for row in history] == [50, 100, 150, 200]
    assert before > 0.5  # the data have radius ~1: an untrained model is far off
    assert after["rmse_window_clean"] < 0.06
    assert after["rmse_window_clean"] == after["rmse_window_noisy"]  # noise-free data


def test_rnn_fits_noise_free_spirals_on_a_tiny_case():
    data = _tiny_spirals()
    torch.manual_seed(0)
    rnn = RNNBaseline(time_input=True, obs_std=0.05).to(F64)
    before = evaluate_rnn(rnn, data)["rmse_observed_clean"]
    train_rnn(rnn, data, iterations=200, lr=0.02, batch_size=None, seed=0)
    after = evaluate_rnn(rnn, data)["rmse_observed_clean"]
    assert before > 0.5 and after < 0.05


@pytest.mark.parametrize("options, message", [({"iterations": -1}, "iterations"), ({"lr": 0.0}, "lr")])
def test_trainers_refuse_bad_settings(options, message):
    data = _tiny_spirals()
    settings = {"iterations": 1, "lr": 0.01, "batch_size": None, "seed": 0, **options}
    with pytest.raises(ValueError, match=message):
        train_rnn(RNNBaseline(time_input=True, obs_std=0.1).to(F64), data, **settings)


def test_likelihood_std_must_be_positive():
    with pytest.raises(ValueError, match="obs_std"):
        LatentODE(obs_std=0.0)
    with pytest.raises(ValueError, match="obs_std"):
        RNNBaseline(time_input=False, obs_std=-1.0)
