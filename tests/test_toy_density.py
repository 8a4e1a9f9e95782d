"""FFJORD Figure 2: toy samplers, the exact-trace CNF density, the run, figure and commands."""
from __future__ import annotations

import argparse
import json
import math
import shutil

import pandas as pd
import pytest
import torch

from replication.data.toy2d import DATASETS, sample
from replication.experiments.toy_density.run import (
    ToyODENet,
    batched_log_density,
    build_model,
    grid_points,
    log_density,
    standard_normal_log_density,
)
from replication.flows.ffjord import CNF
from tests.support.jobs import run_experiment

REQUIRED = ("8gaussians", "checkerboard", "2spirals", "pinwheel")
TINY_SPEC = {
    "dataset": "8gaussians", "seed": 3, "device": "cpu", "scale": "test",
    "model": {"hidden_dims": [8, 8], "T": 0.5, "train_T": True, "method": "dopri5",
              "rtol": 1e-3, "atol": 1e-3, "gradient": "adjoint"},
    "training": {"iterations": 5, "batch_size": 50, "lr": 1e-3, "weight_decay": 1e-5,
                 "log_every": 2},
    "evaluation": {"test_samples": 200, "grid_size": 20, "grid_limit": 4.0,
                   "eval_batch_size": 500},
}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sampler_is_deterministic_shaped_and_in_range(name):
    first = sample(name, 1001, generator=_gen(7))
    assert first.shape == (1001, 2) and first.dtype == torch.float64
    assert torch.equal(first, sample(name, 1001, generator=_gen(7)))
    assert not torch.equal(first, sample(name, 1001, generator=_gen(8)))
    assert torch.isfinite(first).all()
    assert first.abs().max() < 6  # the toy data live in about [-4, 4]²
    assert first.abs().max() > 1.5  # … and are not collapsed near the origin


def test_required_datasets_exist_and_differ():
    assert set(REQUIRED) <= set(DATASETS)
    samples = {name: sample(name, 4000, generator=_gen(0)) for name in REQUIRED}
    # Distinct distributions: compare coarse 2-D histograms (total-variation distance).
    hists = {name: torch.histogramdd(x, bins=8, range=[-4.5, 4.5, -4.5, 4.5]).hist / len(x)
             for name, x in samples.items()}
    for a in REQUIRED:
        for b in REQUIRED:
            if a < b:
                assert 0.5 * (hists[a] - hists[b]).abs().sum() > 0.2, (a, b)


def test_checkerboard_and_eight_gaussians_follow_their_definitions():
    board = sample("checkerboard", 5000, generator=_gen(1))
    assert board.min() >= -4 and board.max() <= 4
    column, row = ((board + 4) // 2).long().unbind(1)
    assert torch.equal(column % 2, row % 2)  # only the "black" squares are occupied
    gaussians = sample("8gaussians", 5000, generator=_gen(1))
    radius = gaussians.norm(dim=1)
    assert abs(radius.median().item() - 2 * math.sqrt(2)) < 0.1


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown toy dataset 'nope'.*8gaussians.*pinwheel"):
        sample("nope", 10, generator=_gen())


# ---------------------------------------------------------------------------------------------
# The CNF density
# ---------------------------------------------------------------------------------------------

def _random_cnf(*, T: float = 1.0, gradient: str = "adjoint", tol: float = 1e-7) -> CNF:
    torch.manual_seed(0)
    dynamics = ToyODENet(hidden_dims=(16, 16))
    with torch.no_grad():  # stronger than the default init, so the flow is far from identity
        for parameter in dynamics.parameters():
            parameter.mul_(3.0)
    return CNF(dynamics, T=T, train_T=True, method="dopri5", rtol=tol, atol=tol,
               gradient=gradient, trace="exact").double()


def test_model_density_integrates_to_one_on_a_grid():
    cnf = _random_cnf()
    grid, area = grid_points(size=100, limit=7.0)
    log_p, nfe = batched_log_density(cnf, grid, batch_size=10_000)
    # The flow is far from the identity, so the check is not the base density's own mass …
    assert (log_p - standard_normal_log_density(grid)).abs().max() > 0.5
    # … yet the density integrates to one. The midpoint rule with cells of 0.14 has an error
    # of O(h²·|∇²p|) ≈ 1e-4 here, the mass beyond |x| = 7 is below 1e-6 for this flow, and
    # solver errors at tolerance 1e-7 are far smaller, so 0.005 leaves a wide margin.
    mass = float(log_p.exp().sum() * area)
    assert abs(mass - 1) < 0.005, mass
    assert nfe > 0


def test_reverse_inverts_forward_and_matches_the_jacobian_determinant():
    cnf = _random_cnf(gradient="backprop", tol=1e-8)
    z0 = torch.randn(6, 2, generator=_gen(2), dtype=torch.float64)
    with torch.no_grad():
        x, log_det_forward = cnf(z0)
        back, log_det_reverse = cnf(x, reverse=True)
    assert torch.allclose(back, z0, atol=1e-4)
    assert torch.allclose(log_det_reverse, -log_det_forward, atol=1e-4)
    assert log_det_forward.abs().max() > 0.1  # a non-trivial volume change
    # log|det ∂x/∂z₀| of the solved map, by autograd through the solver, point by point.
    for point, expected in zip(z0[:2], log_det_forward[:2]):
        jacobian = torch.autograd.functional.jacobian(lambda z: cnf(z[None])[0][0], point)
        assert abs(torch.linalg.slogdet(jacobian).logabsdet - expected) < 1e-4
    # And the density is the base density at z₀ plus that log-determinant.
    with torch.no_grad():
        expected_log_p = standard_normal_log_density(z0) - log_det_forward
        assert torch.allclose(log_density(cnf, x), expected_log_p, atol=1e-4)


def test_build_model_uses_the_exact_trace_and_learnable_T():
    cnf = build_model(TINY_SPEC["model"])
    assert cnf.uses_exact_trace() and cnf.training
    assert any(name.endswith("log_T") for name, _ in cnf.named_parameters())


# ---------------------------------------------------------------------------------------------
# The run, through the command line, and the figure
# ---------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    from replication.cli import build_parser

    return build_parser()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "8gaussians"
    args = _parser().parse_args(
        ["run", "toy_density", "--spec", json.dumps(TINY_SPEC), "--out", str(out),
         "--threads", "1"])
    args.handler(args)
    return out


def test_run_writes_every_file_with_finite_metrics(run_dir):
    for name in ("metrics.json", "density.csv", "data.csv", "samples.csv", "history.csv",
                 "provenance.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["experiment"] == "toy_density" and metrics["dataset"] == "8gaussians"
    for key in ("test_log_likelihood_nats", "grid_mass", "nfe_forward", "nfe_backward",
                "test_nfe_forward", "T", "train_seconds"):
        assert math.isfinite(metrics[key]), key
    assert metrics["nfe_forward"] > 0 and metrics["nfe_backward"] > 0  # adjoint
    assert metrics["iterations"] == 5 and metrics["parameters"] > 0
    assert 0.5 < metrics["grid_mass"] < 1.05
    density = pd.read_csv(run_dir / "density.csv")
    assert list(density.columns) == ["x", "y", "log_density"] and len(density) == 400
    history = pd.read_csv(run_dir / "history.csv")
    assert history["iteration"].tolist() == [2, 4, 5]
    assert json.loads((run_dir / "provenance.json").read_text())["spec"] == TINY_SPEC


def test_run_is_reproducible_for_a_seed(run_dir, tmp_path):
    metrics = run_experiment("toy_density", TINY_SPEC, tmp_path)
    first = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_log_likelihood_nats"] == pytest.approx(first["test_log_likelihood_nats"])


def test_missing_spec_key_is_named(tmp_path):
    spec = json.loads(json.dumps(TINY_SPEC))
    del spec["training"]["lr"]
    with pytest.raises(ValueError, match=r"spec\['training'\].*lr"):
        run_experiment("toy_density", spec, tmp_path)


def test_figure_writes_png_pdf_and_tables(run_dir, tmp_path):
    prefix = tmp_path / "figures" / "ffjord_toy_densities"
    metrics = str(run_dir / "metrics.json")
    args = _parser().parse_args(["figure", "toy_density", metrics, metrics,
                                 "--out", str(prefix.parent)])
    args.handler(args)
    for suffix in (".png", ".pdf", ".csv"):
        assert prefix.with_suffix(suffix).stat().st_size > 0
    summary = pd.read_csv(prefix.with_suffix(".csv"))
    assert {"dataset", "test_log_likelihood_nats", "grid_mass", "nfe_forward", "parameters",
            "iterations"} <= set(summary.columns) and len(summary) == 2
    assert len(pd.read_csv(tmp_path / "figures" / "ffjord_toy_densities_density.csv")) == 800


def test_figure_names_the_file_with_a_missing_column(run_dir, tmp_path):
    from replication.experiments.toy_density.plot import toy_density_figure

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    pd.read_csv(broken / "density.csv").drop(columns="log_density").to_csv(
        broken / "density.csv", index=False)
    with pytest.raises(ValueError, match=r"density\.csv.*log_density"):
        toy_density_figure([broken], prefix=tmp_path / "fig")
    (broken / "metrics.json").unlink()
    with pytest.raises(ValueError, match="metrics.json"):
        toy_density_figure([broken], prefix=tmp_path / "fig")


def test_wide_mass_widens_the_square_until_under_1e3_of_the_mass_is_outside():
    """#14 A.4: a square that cuts off part of the density is widened, and the mass reported."""
    from replication.experiments.toy_density.run import model_samples, outside_fraction, wide_mass

    cnf = _random_cnf().float()
    cnf.eval()
    samples = model_samples(cnf, count=4000, batch_size=4000, generator=_gen(1),
                            device=torch.device("cpu"))
    assert outside_fraction(samples, 1.0) > 0.05  # [-1, 1]² misses much of the mass
    grid, area = grid_points(size=10, limit=1.0)
    narrow = float(batched_log_density(cnf, grid.float(), batch_size=1000)[0].double().exp().sum()
                   * area)
    mass = wide_mass(cnf, samples=samples, grid_limit=1.0, grid_size=20, batch_size=20_000,
                     device=torch.device("cpu"))
    assert mass["mass_limit"] > 1.0 and mass["mass_outside"] < 1e-3
    assert narrow < 0.95 and abs(mass["wide_grid_mass"] - 1) < 0.01, (narrow, mass)
