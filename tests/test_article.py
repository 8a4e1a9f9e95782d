"""The article's experiments (A1–A4): the NumPy network, its updates, the torch snippets, jobs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from replication.cli import build_parser
from replication.experiments.article import numpy_net as net
from replication.experiments.article import run
from replication.experiments.article.data import load_article_mnist, normalise_numpy
from replication.experiments.article.torch_snippets import (
    FFJORDClassifier,
    log_density_effect,
    train_cnf_classifier,
    train_ffjord_classifier,
)
from replication.results import read_json
from tests.support.jobs import run_experiment


def paper_spec(experiment: str, **changes) -> dict:
    """The first paper-scale job spec of *experiment* (a1 … a4) from the config, with *changes*."""
    from replication.config import load_config
    from replication.experiments.registry import experiment as declared

    config = load_config(overrides={"scale": "paper"})
    spec = next(s for s in declared("article").jobs(config) if s["experiment"] == experiment)
    return {**spec, "device": "cpu", **changes} if experiment in ("a3", "a4") else {
        **spec, **changes}

ARTICLE = {"steps": 20, "dt": 0.002}
FAST_SOLVER = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "options": None}
FIXED_SOLVER = {"method": "rk4", "rtol": 1e-7, "atol": 1e-9, "options": {"step_size": 0.5}}


def torch_forward(params: dict, x: np.ndarray, *, steps: int, dt: float) -> torch.Tensor:
    """The same network, written independently in torch float64."""
    p = {k: torch.from_numpy(v) for k, v in params.items()}

    def f(u):
        return torch.sigmoid(0.05 * u)

    z = f(torch.from_numpy(x) @ p["w1"] - p["b1"])
    for _ in range(steps):
        z = z + dt * f(z @ p["w2"] - p["b2"])
    return f(z @ p["w3"] - p["b3"])


@pytest.fixture(scope="module")
def mnist(mnist_root):
    return load_article_mnist(mnist_root, train_subset=256, test_subset=128)


def test_forward_equals_torch_float64():
    params = net.init_params(3)
    x = np.random.default_rng(1).normal(size=(7, 784))
    for steps, dt in [(20, 0.002), (5, 0.1)]:
        expected = torch_forward(params, x, steps=steps, dt=dt).numpy()
        assert np.abs(net.forward(params, x, steps=steps, dt=dt) - expected).max() < 1e-10
        single = net.forward(params, x[0], steps=steps, dt=dt)
        assert np.abs(single - expected[0]).max() < 1e-10


def test_initialisation_is_uniform_in_the_articles_draw_order():
    params = net.init_params(5)
    rng = np.random.default_rng(5)
    for name in net.DRAW_ORDER:
        assert np.array_equal(params[name], rng.random(net.SHAPES[name]))
        assert params[name].min() >= 0 and params[name].max() < 1
    assert not net.is_aliased(params)


def test_exact_gradients_match_autograd():
    params = net.init_params(2)
    x = np.random.default_rng(0).normal(size=784)
    grads = net.exact_gradients(params, x, 3, **ARTICLE)
    leaves = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in params.items()}
    z = torch.sigmoid(0.05 * (torch.from_numpy(x) @ leaves["w1"] - leaves["b1"]))
    for _ in range(ARTICLE["steps"]):
        z = z + ARTICLE["dt"] * torch.sigmoid(0.05 * (z @ leaves["w2"] - leaves["b2"]))
    y = torch.sigmoid(0.05 * (z @ leaves["w3"] - leaves["b3"]))
    target = torch.zeros(10, dtype=torch.float64)
    target[3] = 1
    (0.5 * ((target - y) ** 2).sum()).backward()
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, leaves[name].grad.numpy(), rtol=1e-9, atol=1e-15)


def test_training_step_changes_parameters_and_is_deterministic(mnist):
    images = normalise_numpy(mnist.train.images[:2])
    labels = mnist.train.labels[:2].numpy()
    runs = []
    for _ in range(2):
        params = net.init_params(0)
        initial = {k: v.copy() for k, v in params.items()}
        for x, label in zip(images, labels):
            net.train_step(params, x.astype(np.float64), int(label), lr=0.7, **ARTICLE)
        runs.append(params)
    first, second = runs
    for name in ("w1", "b1", "w2", "b2", "w3", "b3"):
        assert np.array_equal(first[name], second[name])
        assert not np.array_equal(first[name], initial[name])
    # As written, W2 becomes the separately drawn "temporary" W2_ (plus updates) and aliases it.
    assert net.is_aliased(first)
    assert np.abs(first["w2"] - initial["w2_"]).max() < np.abs(first["w2"] - initial["w2"]).max()
    other = net.init_params(1)
    net.train_step(other, images[0].astype(np.float64), int(labels[0]), lr=0.7, **ARTICLE)
    assert not np.array_equal(other["w1"], first["w1"])


def test_deferred_update_keeps_w2_and_differs_from_as_written(mnist):
    x = normalise_numpy(mnist.train.images[:1])[0].astype(np.float64)
    label = int(mnist.train.labels[0])
    written, deferred = net.init_params(0), net.init_params(0)
    w2 = deferred["w2"].copy()
    net.train_step(written, x, label, lr=0.7, **ARTICLE)
    net.train_step(deferred, x, label, lr=0.7, update="deferred", **ARTICLE)
    assert np.abs(deferred["w2"] - w2).max() < np.abs(written["w2"] - w2).max()
    assert net.is_aliased(written) and not net.is_aliased(deferred)
    with pytest.raises(ValueError):
        net.train_step(written, x, label, lr=0.7, update="other", **ARTICLE)


def test_a1_job_writes_files_and_a2_reproduces_its_accuracy(mnist_root, tmp_path):
    spec = paper_spec("a1", seed=0, scale="smoke", train_subset=200, test_subset=300,
                      log_every=50)
    metrics = run_experiment("article", spec, tmp_path / "a1", data_dir=mnist_root)
    for name in ("metrics.json", "provenance.json", "params.npz", "history.csv"):
        assert (tmp_path / "a1" / name).is_file()
    saved = read_json(tmp_path / "a1" / "metrics.json")
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["params_finite"]
    assert metrics["params_aliased"] and metrics["spec"]["lr"] == 0.7
    assert read_json(tmp_path / "a1" / "provenance.json")["seed"] == 0

    settings = [[20, 0.002], [0, 0.002], [40, 0.001], [20, 0.1]]
    a2 = run_experiment("article", paper_spec("a2", seed=0, settings=settings, test_subset=300,
                                              params="a1/params.npz"),
                        tmp_path / "a2", data_dir=mnist_root)
    rows = {(r["n"], r["dt"]): r for r in a2["rows"]}
    assert rows[(20, 0.002)]["accuracy"] == metrics["test_accuracy"]
    assert rows[(20, 0.002)]["T"] == pytest.approx(0.04)
    assert rows[(0, 0.002)]["mean_abs_ode_change"] == 0
    assert 0 < rows[(20, 0.002)]["mean_abs_ode_change"] <= 0.04
    assert (tmp_path / "a2" / "rows.csv").is_file()
    assert (tmp_path / "a2" / "provenance.json").is_file()


def test_specs_reject_unknown_and_missing_keys_and_wrong_experiments():
    with pytest.raises(ValueError, match="unknown keys"):
        run.resolve(paper_spec("a1", learning_rate=1), "a1")
    with pytest.raises(ValueError, match="not 'a3'"):
        run.resolve(paper_spec("a1"), "a3")
    with pytest.raises(ValueError, match=r"lacks \['dt', 'epochs'.*scales\.<scale>\.article\.a1"):
        run.resolve({"experiment": "a1", "seed": 0, "steps": 20}, "a1")
    # no value is filled in: the article's solver comes from the config, as written there
    assert run.resolve(paper_spec("a4"), "a4")["solver"]["rtol"] == 1e-7


def test_cnf_snippet_trains_a_few_steps(mnist):
    metrics = train_cnf_classifier(train=mnist.train, test=mnist.test, epochs=5, batch_size=64,
                                   seed=0, max_steps=3)
    assert metrics["steps"] == 3 and metrics["reduced"]
    assert metrics["parameters"] == 113_210
    assert metrics["nfe_forward_per_batch"] == 9 and metrics["nfe_backward_per_batch"] == 0
    for key in ("test_accuracy", "step_seconds", "estimated_full_run_train_seconds",
                "final_train_loss"):
        assert math.isfinite(metrics[key])
    assert metrics["full_run_steps"] == 5 * 4


def test_ffjord_log_density_does_not_change_the_gradient_with_fixed_steps(mnist):
    torch.manual_seed(0)
    model = FFJORDClassifier(readout="z_T", **FIXED_SOLVER)
    images = normalise_numpy(mnist.train.images[:16]).reshape(16, 1, 28, 28)
    images, labels = torch.from_numpy(images), mnist.train.labels[:16]
    fixed = log_density_effect(model, images, labels, seed=0)
    assert fixed["max_abs_grad_diff"] == 0 and fixed["max_abs_logit_diff"] == 0
    assert fixed["max_abs_grad"] > 0
    assert fixed["nfe_forward_with"] == fixed["nfe_forward_without"] == 8  # rk4, 2 steps
    assert fixed["nfe_backward_with"] > 0
    # As written, the classifier reads ε, so no gradient reaches the dynamics.
    assert fixed["as_written_dynamics_max_abs_grad"] == 0
    adaptive = log_density_effect(model, images, labels, seed=0, solver=FAST_SOLVER)
    for key in ("nfe_forward_with", "nfe_forward_without", "nfe_backward_with",
                "nfe_backward_without"):
        assert adaptive[key] > 0
    assert adaptive["max_abs_grad_diff"] <= 1e-3 * adaptive["max_abs_grad"]


def test_ffjord_snippet_trains_a_few_steps(mnist):
    metrics = train_ffjord_classifier(
        train=mnist.train.head(64), test=mnist.test.head(32), epochs=5, batch_size=16, seed=0,
        max_steps=2, eval_batch_size=32, readout="as_written", solver=FAST_SOLVER,
        check_solvers={"fixed": FIXED_SOLVER}, check_batch_size=8)
    assert metrics["steps"] == 2 and metrics["parameters"] == 113_210
    assert metrics["nfe_forward_per_batch"] > 0 and metrics["nfe_backward_per_batch"] > 0
    assert math.isfinite(metrics["test_accuracy"]) and math.isfinite(metrics["final_train_loss"])
    for stage in ("initial", "final"):
        check = metrics["log_density_effect"][stage]["fixed"]
        assert check["max_abs_grad_diff"] == 0 and check["as_written_dynamics_max_abs_grad"] == 0


def test_torch_jobs_write_files_through_the_commands(mnist_root, tmp_path):
    parser = build_parser()
    tiny = {"seed": 1, "scale": "smoke", "train_subset": 64, "test_subset": 32,
            "batch_size": 16, "max_steps": 2, "eval_batch_size": 32}
    specs = {
        "a3": paper_spec("a3", **tiny),
        "a4": paper_spec("a4", **tiny, readout="z_T", check_batch_size=8,
                         solver={"method": "dopri5", "rtol": 1e-3, "atol": 1e-3},
                         check_solvers={"fixed_rk4": {"method": "rk4", "step_size": 0.5}}),
    }
    for experiment, spec in specs.items():
        out = tmp_path / experiment
        args = parser.parse_args(["run", "article", "--spec", json.dumps(spec),
                                  "--data-dir", str(mnist_root), "--out", str(out)])
        args.handler(args)
        metrics = read_json(out / "metrics.json")
        assert metrics["experiment"] == experiment and metrics["seed"] == 1
        assert metrics["steps"] == 2 and math.isfinite(metrics["test_accuracy"])
        assert (out / "provenance.json").is_file() and (out / "batches.csv").is_file()
        assert read_json(out / "provenance.json")["spec"]["max_steps"] == 2
    assert torch.get_num_threads() == 1


def test_article_jobs_expand_a_config_section_into_valid_specs():
    from replication.experiments.article import article_jobs, job_dir

    torch_settings = {"seeds": [0, 1], "device": "cpu", "threads": 1, "epochs": 5,
                      "batch_size": 64, "max_steps": None, "train_subset": None,
                      "test_subset": None, "eval_batch_size": 64, "log_every": 100}
    section = {
        "a1": {"seeds": [0, 1], **{k: v for k, v in paper_spec("a1").items()
                                    if k in run.A1_KEYS}},
        "a2": {"settings": [[20, 0.002], [10, 0.004]], "test_subset": None},
        "a3": torch_settings,
        "a4": {**torch_settings, "solver": {"method": "dopri5", "rtol": 1e-7, "atol": 1e-9},
               "check_solvers": {"fixed": {"method": "rk4", "step_size": 0.25}},
               "check_batch_size": 64,
               "readouts": {"as_written": {"seeds": [0], "max_steps": 30}, "z_T": None}},
    }
    jobs = article_jobs(section, scale="cpu")
    assert [j["experiment"] for j in jobs].count("a2") == 2
    a4 = [j for j in jobs if j["experiment"] == "a4"]
    assert [(j["readout"], j["seed"], j["max_steps"]) for j in a4] == [
        ("as_written", 0, 30), ("z_T", 0, None), ("z_T", 1, None)]
    for job in jobs:
        assert "threads" not in job and "seeds" not in job
        run.resolve(job, job["experiment"])
    assert job_dir(a4[0]) == "article/a4/as_written/seed0"
    (a2, *_) = [j for j in jobs if j["experiment"] == "a2"]
    assert a2["params"] == f"article/a1/seed{a2['seed']}/params.npz"  # A1's of the same seed
