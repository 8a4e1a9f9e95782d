"""The spirals of Table 2: shapes, balance, irregular subsampling, seeding, and their ODE."""
import math

import pytest
import torch

from replication.data.spirals import (STEP, make_spirals, spiral_points, spiral_velocity,
                                      train_test_split)
from replication.ode import integrate


def _spirals(n_observed=30, noise_std=0.1, seed=0, **options):
    return make_spirals(n_observed=n_observed, noise_std=noise_std,
                        generator=torch.Generator().manual_seed(seed), **options)


def test_paper_sizes_and_balanced_directions():
    data = _spirals()
    assert data.clean.shape == data.noisy.shape == (1000, 200, 2)
    assert data.times.shape == (200,)
    assert torch.allclose(data.times[1:] - data.times[:-1], torch.full((199,), STEP, dtype=torch.float64))
    assert int((data.direction == 1).sum()) == int((data.direction == -1).sum()) == 500
    assert data.theta0.unique().numel() == 1000  # each spiral starts at a different point


@pytest.mark.parametrize("n_observed", [30, 50, 100])
def test_subsample_is_without_replacement_sorted_and_inside_the_window(n_observed):
    data = _spirals(n_observed=n_observed)
    observed = data.observed
    assert observed.shape == (1000, n_observed)
    assert bool((observed[:, 1:] > observed[:, :-1]).all())  # strictly increasing: no repeats
    assert int(observed.min()) >= 0 and int(observed.max()) < 100
    x, t = data.observations()
    assert x.shape == (1000, n_observed, 2) and t.shape == (1000, n_observed)
    assert torch.equal(x[3, 5], data.noisy[3, observed[3, 5]])
    if n_observed < 100:  # irregular: the spirals do not share their observation times
        assert observed.unique(dim=0).shape[0] > 900


def test_the_generator_alone_decides_the_data():
    torch.manual_seed(123)
    global_state = torch.get_rng_state()
    a, b, c = _spirals(seed=7), _spirals(seed=7), _spirals(seed=8)
    assert torch.equal(torch.get_rng_state(), global_state)  # the global RNG was not used
    assert torch.equal(a.noisy, b.noisy) and torch.equal(a.observed, b.observed)
    assert not torch.equal(a.noisy, c.noisy)


def test_noise_is_gaussian_with_the_requested_std():
    data = _spirals(noise_std=0.3)
    residual = data.noisy - data.clean
    assert abs(float(residual.std()) - 0.3) < 0.003  # 400,000 draws: std error ~ 0.0003
    assert abs(float(residual.mean())) < 0.003
    assert torch.equal(_spirals(noise_std=0.0).noisy, _spirals(noise_std=0.0).clean)


def test_clean_trajectories_satisfy_their_ode_by_finite_differences():
    data = _spirals()
    h = data.times[1] - data.times[0]
    central = (data.clean[:, 2:] - data.clean[:, :-2]) / (2 * h)  # O(h²) accurate
    velocity = spiral_velocity(data.clean[:, 1:-1], data.direction[:, None], b=data.b)
    assert float((central - velocity).abs().max()) < 5e-3  # h² · |z'''| / 6 with h ≈ 0.038


def test_clean_trajectories_are_the_solution_of_their_ode():
    data = _spirals().subset(torch.arange(6))
    direction = data.direction

    def f(t, z):
        return spiral_velocity(z, direction, b=data.b)

    solved = integrate(f, data.clean[:, 0], data.times, method="dopri5", rtol=1e-10, atol=1e-10,
                       gradient="backprop").transpose(0, 1)
    assert float((solved - data.clean).abs().max()) < 1e-7


def test_directions_rotate_the_right_way():
    theta = torch.tensor([[3.0, 3.1]], dtype=torch.float64)
    for s in (1.0, -1.0):
        z = spiral_points(theta, torch.tensor([s], dtype=torch.float64), b=0.3)[0]
        cross = z[0, 0] * z[1, 1] - z[0, 1] * z[1, 0]  # > 0 counter-clockwise
        assert math.copysign(1, float(cross)) == s


def test_split_is_disjoint_and_of_the_stated_size():
    data = _spirals()
    train, test = train_test_split(data, test_fraction=0.2, generator=torch.Generator().manual_seed(0))
    assert (len(train), len(test)) == (800, 200)
    keys = lambda d: {float(v) for v in d.theta0}
    assert not keys(train) & keys(test)


@pytest.mark.parametrize("options, message", [
    ({"n_observed": 0}, "n_observed"), ({"n_observed": 101}, "n_observed"),
    ({"noise_std": -0.1}, "noise_std"), ({"noise_std": float("nan")}, "noise_std"),
    ({"n_spirals": 999}, "even"), ({"start_range": (0.0, 1.0)}, "start_range"),
])
def test_bad_settings_are_refused_with_their_name(options, message):
    settings = {"n_observed": 30, "noise_std": 0.1, **options}
    with pytest.raises(ValueError, match=message):
        make_spirals(generator=torch.Generator(), **settings)
