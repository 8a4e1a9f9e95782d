"""Neural ODE Table 2: one model trained on irregularly sampled spirals, its test RMSE.

The paper (§5.1, App. E; spec §8.1): 1000 2-D spirals of 100 equally spaced points, half each
direction, with Gaussian noise; n ∈ {30, 50, 100} of each spiral's points observed (drawn without
replacement); "predictive RMSE on test set" of a latent ODE and of an RNN, read here as the RMSE
of extrapolation over the 100 points after the observation window.

One job: the spirals are generated from the spec's seed (:func:`~replication.data.spirals.make_spirals`
with a generator seeded by it, then split into train and test by the same generator), so every
model and every n of one seed sees the same trajectories, noise and split, and the n points of
a smaller n are a subset of a larger n's. The model (:class:`~replication.models.latent_ode.LatentODE`
or :class:`~replication.models.rnn_baseline.RNNBaseline`, plain or with Δt) is trained by
:mod:`replication.train.latent_ode` (Adam; minibatches and the latent ODE's z₀ noise from a
generator seeded by a second stream of the seed) and evaluated on the test spirals:
reconstruction (the latent ODE at the observed points; the RNN's one-step-ahead predictions of
points 2…n), the latent ODE's whole window, and extrapolation, each against the noisy and the
clean points.

Files (besides provenance.json and metrics.json, which the job contract writes):
``history.csv`` (the training curve), ``predictions.csv`` (the first ``figure_spirals`` test
spirals: truth, observations and the model's predictions on the grid, for Figure 8a/b) and,
for the latent ODE, ``latent.csv`` (the latent trajectories of the first ``latent_spirals``
test spirals, for Figure 8c), and ``model.pt`` (the trained model's state dict, a few kB).
"""
from __future__ import annotations

import json
import time

import torch

from replication.data.spirals import Spirals, make_spirals, train_test_split
from replication.measure.provenance import config_hash
from replication.models import count_parameters
from replication.models.latent_ode import LatentODE
from replication.models.rnn_baseline import RNNBaseline
from replication.results import write_csv
from replication.train.checkpoint import save_atomic
from replication.train.latent_ode import (
    evaluate_latent_ode,
    evaluate_rnn,
    train_latent_ode,
    train_rnn,
)
from replication.train.progress import report

OUTPUT_FILES = ("history.csv", "predictions.csv", "model.pt")  # latent.csv: latent ODE only
LATENT_FILE = "latent.csv"
RNN_TIME_INPUT = {"rnn": False, "rnn_dt": True}  # the paper's two RNN versions
MODELS = ("latent_ode", *RNN_TIME_INPUT)
REQUIRED = ("scale", "seed", "device", "model", "n_observed", "data", "architecture", "training",
            "evaluation")
DTYPE = torch.float64  # the spirals' dtype (a tolerance of 1.5e-8 needs float64)
TRAIN_STREAM = 1_000_003  # the training generator's seed: seed · this + 1, apart from the data's


def check_spec(spec: dict) -> None:
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise ValueError(f"table2 spec lacks {', '.join(missing)}; it needs {', '.join(REQUIRED)} "
                         "(see the scale's `table2` section of config/config.yaml)")
    if spec["model"] not in MODELS:
        raise ValueError(f"unknown Table 2 model {spec['model']!r}; known: {', '.join(MODELS)}")
    if spec["device"] != "cpu":
        raise ValueError(f"table2 runs on the CPU (its trainers keep the spirals there), "
                         f"not on {spec['device']!r}: set device: cpu")


def make_data(spec: dict) -> tuple[Spirals, Spirals]:
    """(train, test) spirals of the spec: generated and split by a generator seeded by the seed."""
    data = spec["data"]
    generator = torch.Generator().manual_seed(spec["seed"])
    spirals = make_spirals(n_observed=spec["n_observed"], noise_std=data["noise_std"],
                           generator=generator, n_spirals=data["n_spirals"],
                           n_window=data["n_window"], n_extrapolate=data["n_extrapolate"])
    return train_test_split(spirals, test_fraction=data["test_fraction"], generator=generator)


def build_model(spec: dict) -> LatentODE | RNNBaseline:
    """The spec's model, in float64, with the likelihood σ of ``training.obs_std``."""
    obs_std = spec["training"]["obs_std"]
    if spec["model"] == "latent_ode":
        model = LatentODE(obs_std=obs_std, **spec["architecture"])
    else:
        model = RNNBaseline(obs_std=obs_std, time_input=RNN_TIME_INPUT[spec["model"]],
                            **spec["architecture"])
    return model.to(DTYPE)


def _prediction_rows(spec: dict, data: Spirals, predicted: torch.Tensor,
                     known: torch.Tensor) -> list[dict]:
    """Long-format rows (spiral, grid point) with truth, observation and prediction.

    ``predicted`` (B, T, 2) holds the model's prediction at every grid point where ``known``
    (B, T) is True, and NaN is written elsewhere.
    """
    observed = torch.zeros(len(data), data.times.numel(), dtype=torch.bool)
    observed.scatter_(1, data.observed, True)
    rows = []
    for spiral in range(len(data)):
        for index, t in enumerate(data.times.tolist()):
            have = bool(known[spiral, index])
            rows.append({
                "model": spec["model"], "n_observed": spec["n_observed"], "seed": spec["seed"],
                "spiral": spiral, "direction": int(data.direction[spiral]), "index": index,
                "t": t, "part": "window" if index < data.n_window else "extrapolation",
                "observed": bool(observed[spiral, index]),
                "x_clean": float(data.clean[spiral, index, 0]),
                "y_clean": float(data.clean[spiral, index, 1]),
                "x_noisy": float(data.noisy[spiral, index, 0]),
                "y_noisy": float(data.noisy[spiral, index, 1]),
                "x_predicted": float(predicted[spiral, index, 0]) if have else float("nan"),
                "y_predicted": float(predicted[spiral, index, 1]) if have else float("nan"),
            })
    return rows


def latent_ode_predictions(model: LatentODE, data: Spirals) -> tuple[torch.Tensor, torch.Tensor]:
    """The reconstruction and extrapolation on the whole grid (all points known)."""
    x, t = data.observations()
    predicted = model.predict(x, t, data.times)
    return predicted, torch.ones(predicted.shape[:2], dtype=torch.bool)


def rnn_predictions(model: RNNBaseline, data: Spirals) -> tuple[torch.Tensor, torch.Tensor]:
    """One-step-ahead predictions of observed points 2…n, then the extrapolation."""
    x, t = data.observations()
    with torch.no_grad():
        one_step = model(x, t)
    future = model.extrapolate(x, t, data.times[data.n_window:])
    predicted = torch.full((len(data), data.times.numel(), 2), float("nan"), dtype=x.dtype)
    index = data.observed[:, 1:].unsqueeze(-1).expand(-1, -1, 2)
    predicted.scatter_(1, index, one_step)
    predicted[:, data.n_window:] = future
    return predicted, ~predicted[..., 0].isnan()


def latent_rows(spec: dict, model: LatentODE, data: Spirals) -> list[dict]:
    x, t = data.observations()
    paths = model.latent_paths(x, t, data.times)
    rows = []
    for spiral in range(len(data)):
        for index, time_ in enumerate(data.times.tolist()):
            rows.append({"spiral": spiral, "direction": int(data.direction[spiral]),
                         "index": index, "t": time_,
                         **{f"z{k + 1}": float(paths[spiral, index, k])
                            for k in range(paths.shape[-1])}})
    return rows


def run(spec: dict, job) -> dict:
    """Train the spec's model on its spirals; write ``OUTPUT_FILES``; return the metrics."""
    check_spec(spec)
    training, evaluation = spec["training"], spec["evaluation"]
    train, test = make_data(spec)
    model = build_model(spec)
    name = f"{spec['model']} n={spec['n_observed']} seed {spec['seed']}"
    settings = {"iterations": training["iterations"], "lr": training["lr"],
                "batch_size": training["batch_size"], "seed": spec["seed"] * TRAIN_STREAM + 1,
                "log_every": training["log_every"]}
    latent = spec["model"] == "latent_ode"
    report(f"{name}: training on {len(train)} spirals for {training['iterations']} iterations")
    history = (train_latent_ode if latent else train_rnn)(model, train, **settings)

    start = time.perf_counter()
    calls = model.dynamics.calls if latent else 0
    rmse = (evaluate_latent_ode if latent else evaluate_rnn)(model, test)
    test_nfe = model.dynamics.calls - calls if latent else None
    eval_seconds = time.perf_counter() - start

    shown = test.subset(torch.arange(min(evaluation["figure_spirals"], len(test))))
    predicted, known = (latent_ode_predictions if latent else rnn_predictions)(model, shown)
    write_csv(job.out_dir / "predictions.csv", _prediction_rows(spec, shown, predicted, known))
    if latent:
        paths = test.subset(torch.arange(min(evaluation["latent_spirals"], len(test))))
        write_csv(job.out_dir / LATENT_FILE, latent_rows(spec, model, paths))
    identity = {"model": spec["model"], "n_observed": spec["n_observed"], "seed": spec["seed"]}
    write_csv(job.out_dir / "history.csv", [{**identity, **row} for row in history])
    # The trained weights, for analyses that must not retrain (e.g. Figure 9); the spec as JSON
    # text, so model.pt holds only tensors and plain data (loaded weights_only).
    save_atomic({"spec": json.dumps(spec, sort_keys=True), "model": model.state_dict()},
                job.out_dir / "model.pt")

    last = history[-1]
    metrics = {
        "experiment": "table2",
        "scale": spec["scale"],
        **identity,
        "device": spec["device"],
        "parameters": count_parameters(model),
        "train_size": len(train),
        "test_size": len(test),
        "noise_std": spec["data"]["noise_std"],
        "n_window": spec["data"]["n_window"],
        "n_extrapolate": spec["data"]["n_extrapolate"],
        "iterations": training["iterations"],
        # the paper's "predictive RMSE": extrapolation, against the noisy test points
        "rmse_extrapolation": rmse["rmse_extrapolation_noisy"],
        "rmse_extrapolation_clean": rmse["rmse_extrapolation_clean"],
        "rmse_reconstruction": rmse["rmse_observed_noisy"],
        "rmse_reconstruction_clean": rmse["rmse_observed_clean"],
        "rmse_window": rmse.get("rmse_window_noisy"),  # latent ODE only: every window point
        "rmse_window_clean": rmse.get("rmse_window_clean"),
        "train_loss_last": -last["elbo"] if latent else last["nll"],
        "nfe_forward_last": last["nfe_forward"] if latent else None,  # per training iteration
        "nfe_backward_last": last["nfe_backward"] if latent else None,
        "nfe_test": test_nfe,  # the test set's one solve over the whole grid
        "train_seconds": last["seconds"],
        "eval_seconds": eval_seconds,
        "config_hash": config_hash(spec),
    }
    report(f"{name}: test RMSE extrapolation {metrics['rmse_extrapolation']:.4f}, "
           f"reconstruction {metrics['rmse_reconstruction']:.4f}, "
           f"{metrics['train_seconds']:.0f} s")
    return metrics


__all__ = ["LATENT_FILE", "MODELS", "OUTPUT_FILES", "build_model", "check_spec", "make_data",
           "run"]
