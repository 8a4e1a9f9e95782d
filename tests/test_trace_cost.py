"""Trace cost study: the variance formulas, the exact trace, a tiny run, its figure, its CLI."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from replication.experiments.trace_cost.run import (
    RandomMLP,
    analytic_variance,
    empirical_variance,
    fit_slopes,
    jacobian_from_vjps,
    model_flops,
)
from replication.ode.trace import exact_trace
from tests.support.jobs import run_experiment

# A fixed, non-symmetric 4×4 matrix with a non-zero diagonal.
J = torch.tensor([[1.0, 2.0, 0.0, -1.0],
                  [0.5, -1.0, 3.0, 0.0],
                  [0.0, 1.0, 2.0, 1.0],
                  [-2.0, 0.0, 0.5, 0.5]], dtype=torch.float64)
TINY_SPEC = {"scale": "smoke", "seed": 0, "device": "cpu", "dims": [2, 8, 32], "hidden": 16,
             "batch_size": 8, "repeats": 2, "variance_draws": 64, "jacobian_samples": 2,
             "fit_min_dim": 2, "vectorized_max_dim": 8, "exact_budget_seconds": 20.0}


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_analytic_variance_matches_brute_force_monte_carlo(kind):
    """For linear f(z) = Jz the estimator is exactly εᵀJε, so the formula must hold."""
    generator = torch.Generator().manual_seed(0)
    draws = 400_000
    if kind == "gaussian":
        noise = torch.randn(draws, 4, generator=generator, dtype=torch.float64)
    else:
        noise = torch.randint(0, 2, (draws, 4), generator=generator).double() * 2 - 1
    estimates = torch.einsum("ki,ij,kj->k", noise, J, noise)
    expected = float(analytic_variance(J, kind))
    assert float(estimates.mean()) == pytest.approx(float(torch.trace(J)), abs=0.05)
    assert float(estimates.var()) == pytest.approx(expected, rel=0.02)


def test_analytic_variance_closed_forms_and_rademacher_never_worse():
    frobenius, trace_of_square = J.square().sum(), torch.trace(J @ J)
    gaussian, rademacher = analytic_variance(J, "gaussian"), analytic_variance(J, "rademacher")
    assert float(gaussian) == pytest.approx(float(frobenius + trace_of_square))
    diagonal_squares = torch.diagonal(J).square().sum()
    assert float(rademacher) == pytest.approx(float(gaussian - 2 * diagonal_squares))
    batch = torch.randn(16, 6, 6, generator=torch.Generator().manual_seed(1))
    assert torch.all(analytic_variance(batch, "rademacher") <= analytic_variance(batch, "gaussian"))
    diagonal = torch.diag(torch.tensor([1.0, -2.0, 3.0]))
    assert float(analytic_variance(diagonal, "rademacher")) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="gaussian"):
        analytic_variance(J, "uniform")


def test_empirical_variance_of_the_real_estimator_on_a_linear_map():
    linear = lambda z: z @ J.T.float()  # noqa: E731  f(z) = Jz row-wise
    z = torch.zeros(3, 4)
    torch.manual_seed(0)
    variance = empirical_variance(linear, z, kind="rademacher", draws=20_000, chunk_elements=4096)
    assert variance.shape == (3,)
    assert torch.allclose(variance, analytic_variance(J, "rademacher").expand(3), rtol=0.05)


def test_exact_trace_and_vjp_jacobian_agree_with_autograd_jacobian():
    func = RandomMLP(6, 10, seed=3)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(4))
    reference = torch.stack([torch.autograd.functional.jacobian(lambda x: func(x[None])[0], row)
                             for row in z])
    assert torch.allclose(jacobian_from_vjps(func, z), reference, atol=1e-6)
    probe = z.clone().requires_grad_(True)
    traces = exact_trace(func(probe), probe)
    assert torch.allclose(traces, torch.stack([torch.trace(m) for m in reference]), atol=1e-6)


def test_random_mlp_is_seeded_and_does_not_touch_the_global_rng():
    state = torch.get_rng_state()
    first, second = RandomMLP(5, 7, seed=11), RandomMLP(5, 7, seed=11)
    assert torch.equal(torch.get_rng_state(), state)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_fit_slopes_recovers_power_laws_and_the_flop_model():
    rows = [{"dim": d, "hidden": 4, "batch_size": 1, "f_seconds": 3e-6 * d,
             "hutchinson_seconds": 5e-6 * d, "exact_seconds": 1e-6 * d**2,
             "exact_vectorized_seconds": math.nan} for d in (64, 128, 256, 512)]
    fits = fit_slopes(rows, min_dim=64)
    assert set(fits) == {"f", "hutchinson", "exact"}
    assert fits["f"]["slope"] == pytest.approx(1.0)
    assert fits["exact"]["slope"] == pytest.approx(2.0)
    assert fits["exact"]["model_slope"] == pytest.approx(
        1 + fits["f"]["model_slope"], abs=0.02)
    assert model_flops(10, 4, 2) == {"f": 2 * 2 * (80 + 16), "hutchinson": 2 * 384,
                                     "exact": 11 * 384, "exact_vectorized": 11 * 384}


def test_missing_spec_key_is_named(tmp_path):
    spec = {k: v for k, v in TINY_SPEC.items() if k != "jacobian_samples"}
    with pytest.raises(ValueError, match="jacobian_samples"):
        run_experiment("trace_cost", spec, tmp_path)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace_cost")
    metrics = run_experiment("trace_cost", dict(TINY_SPEC), out)
    return out, metrics


def test_tiny_run_writes_every_file_with_finite_values(tiny_run):
    out, metrics = tiny_run
    assert {p.name for p in out.iterdir()} >= {"points.csv", "metrics.json", "provenance.json"}
    points = pd.read_csv(out / "points.csv")
    assert points["dim"].tolist() == [2, 8, 32]
    measured = points.drop(columns=["exact_vectorized_seconds"])
    numbers = measured.select_dtypes("number").to_numpy(dtype=float)
    assert measured.notna().all().all() and np.isfinite(numbers).all()
    assert points["exact_vectorized_seconds"].notna().tolist() == [True, True, False]
    assert (points["exact_trace_max_abs_error"] < 1e-4).all()
    assert (points["var_rademacher_analytic"] <= points["var_gaussian_analytic"] + 1e-9).all()
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["dims"] == [2, 8, 32] and on_disk["device"] == "cpu"
    assert set(on_disk["slopes"]) == {"f", "hutchinson", "exact", "exact_vectorized"}
    assert on_disk["config_hash"] == metrics["config_hash"]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["spec"] == TINY_SPEC and provenance["code_fingerprint"] == "test"


def test_tiny_run_is_deterministic_apart_from_timings(tiny_run, tmp_path):
    out, _ = tiny_run
    run_experiment("trace_cost", dict(TINY_SPEC), tmp_path)
    columns = ["trace_mean", "trace_rms", "var_gaussian_empirical", "var_gaussian_analytic",
               "var_rademacher_empirical", "var_rademacher_analytic"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "points.csv")[columns],
                                  pd.read_csv(tmp_path / "points.csv")[columns])


def test_figure_writes_png_pdf_and_tables(tiny_run, tmp_path):
    from replication.experiments.trace_cost.plot import trace_cost_figure

    out, _ = tiny_run
    paths = trace_cost_figure(out / "points.csv", prefix=tmp_path / "trace_cost")
    names = {p.name for p in paths}
    assert names == {"trace_cost.png", "trace_cost.pdf", "trace_cost.csv", "trace_cost_fits.csv"}
    assert all(p.stat().st_size > 0 for p in paths)
    fits = pd.read_csv(tmp_path / "trace_cost_fits.csv")
    assert set(fits["method"]) == {"f", "hutchinson", "exact", "exact_vectorized"}


def test_figure_names_a_missing_column_or_file(tiny_run, tmp_path):
    from replication.experiments.trace_cost.plot import trace_cost_figure

    out, _ = tiny_run
    broken = tmp_path / "points.csv"
    pd.read_csv(out / "points.csv").drop(columns=["var_rademacher_analytic"]).to_csv(broken,
                                                                                      index=False)
    with pytest.raises(ValueError, match="var_rademacher_analytic"):
        trace_cost_figure(broken, prefix=tmp_path / "figure")
    with pytest.raises(ValueError, match="not found"):
        trace_cost_figure(tmp_path / "absent.csv", prefix=tmp_path / "figure")


def test_cli_runs_and_plots_it():
    from replication.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["run", "trace_cost", "--spec", "{}", "--out", "x", "--threads", "1"])
    assert args.run_experiment == "trace_cost" and args.threads == 1 and callable(args.handler)
    args = parser.parse_args(["figure", "trace_cost", "p.csv", "--out", "fig"])
    assert args.command == "figure" and [str(p) for p in args.inputs] == ["p.csv"]


def test_bottleneck_matrix_has_the_same_trace_and_an_h_by_h_shape():
    """FFJORD §3.1.1: tr(∂f/∂z) = tr(W₁ ∂g/∂h) for f = g ∘ h, h = W₁z + b₁ ∈ ℝ^H (#14 A.8)."""
    from replication.experiments.trace_cost.run import (
        RandomMLP,
        bottleneck_matrix,
        jacobian_from_vjps,
    )

    func = RandomMLP(12, 4, seed=3)
    func.requires_grad_(False)
    z = torch.randn(5, 12, generator=torch.Generator().manual_seed(0))
    full = jacobian_from_vjps(func, z).double()
    bottleneck = bottleneck_matrix(func, z)
    assert bottleneck.shape == (5, 4, 4)
    torch.testing.assert_close(torch.diagonal(bottleneck, dim1=-2, dim2=-1).sum(-1),
                               torch.diagonal(full, dim1=-2, dim2=-1).sum(-1), rtol=1e-5,
                               atol=1e-6)
