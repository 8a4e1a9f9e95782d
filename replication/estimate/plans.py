"""Every job of a scale, as the estimate sees it: how many steps the protocol runs, how to build
the job's model with the job's own builder, and what the papers say its parameter count is.

A planner per experiment turns the resolved configuration into :class:`PlannedJob` rows; jobs
with the same ``shape`` (same model, batch and data kind: the seeds of one model) are timed
once. ``build(device)`` returns a :class:`Probe`: the built model and one training step of it
(forward, backward and update on a synthetic batch of the job's shape). Models come from the
builders the jobs call (``replication.models``, ``experiments.vae_table.run.build_vae``, the CNF and
article modules); nothing is re-implemented here.

Trained-like NFE for adaptive solvers come from the committed cpu-scale runs
(``results/cpu/…``), which used the same solver settings; where a file is missing the row
has no trained NFE and its note says so.
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from replication.config import REPO_ROOT
from replication.experiments.registry import experiment

CPU_RESULTS = REPO_ROOT / "results" / "cpu"
MNIST_TRAIN_IMAGES = 60_000   # the MNIST training file; the validation split is cut from it
MNIST_TEST_IMAGES = 10_000


@dataclass(frozen=True, kw_only=True)
class Probe:
    """A built job: its parameter count and one step, which returns (NFE-F, NFE-B)."""

    parameters: int | None
    step: Callable[[], tuple[int, int]]
    torch_memory: bool = True   # False for NumPy work (the torch allocator does not see it)
    seconds_factor: float = 1.0  # the step does 1/factor of the job's step (timed on part of it)


@dataclass(frozen=True, kw_only=True)
class ParameterCheck:
    """What a paper (or the authors' code, via papers.md) says a model's parameter count is."""

    source: str
    exact: int | None = None
    millions: float | None = None   # a count rounded to 0.01 M, as Table 1 prints it

    def label(self) -> str:
        value = f"{self.exact:,}" if self.exact is not None else f"{self.millions:.2f} M"
        return f"{value} ({self.source})"

    def holds(self, parameters: int) -> bool:
        if self.exact is not None and parameters != self.exact:
            return False
        return self.millions is None or round(parameters / 1e6, 2) == self.millions


@dataclass(frozen=True, kw_only=True)
class Timing:
    """What was measured for one shape: seconds per step, NFE per step, peak memory of a step."""

    parameters: int | None
    seconds_per_step: float
    timed_steps: int
    nfe_forward: float = 0.0
    nfe_backward: float = 0.0
    peak_memory_bytes: int | None = None
    saved_tensor_bytes: int | None = None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class PlannedJob:
    experiment: str
    job: str
    shape: str
    steps: int
    batch_size: int | None
    build: Callable[[object], Probe] | None = None
    checks: tuple[ParameterCheck, ...] = ()
    nfe_trained: tuple[float, float] | None = None
    slow: bool = False          # time one step (the first) instead of warm-up + --steps
    note: str = ""
    # instead of build: measure(device, timing_of) -> Timing, where timing_of(shape) gives the
    # timing of another shape (to extrapolate from it) or of a custom measurement
    measure: Callable | None = field(default=None)


# ---- committed cpu runs: trained-like NFE ----------------------------------------------------

def _last_row(path: Path) -> dict | None:
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[-1] if rows else None


def _mean_tail(path: Path, *, keys: tuple[str, str], count: int) -> tuple[float, float] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[-count:]
    if not rows:
        return None
    return tuple(sum(float(row[key]) for row in rows) / len(rows) for key in keys)


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


# ---- synthetic batches -----------------------------------------------------------------------

def _generator():
    import torch

    return torch.Generator().manual_seed(0)


def _classifier_batch(batch: int, device):
    import torch

    generator = _generator()
    images = torch.rand(batch, 1, 28, 28, generator=generator).to(device)
    labels = torch.randint(0, 10, (batch,), generator=generator).to(device)
    return images, labels


def _vae_batch(batch: int, image_shape, likelihood: str, device):
    import torch

    generator = _generator()
    if likelihood == "categorical256":
        pixels = torch.randint(0, 256, (batch, *image_shape), generator=generator)
        return (pixels / 255.0).to(device)
    return torch.randint(0, 2, (batch, *image_shape), generator=generator).float().to(device)


# ---- Neural ODE Table 1 ----------------------------------------------------------------------

TABLE1_MILLIONS = {"mlp": 0.24, "resnet": 0.60, "rknet": 0.22, "odenet": 0.22}
# papers.md §1.4: counts of torchdiffeq's odenet_mnist.py architectures, by downsampling.
REFERENCE_COUNTS = {("mlp", None): 238_510, ("resnet", "res"): 601_482,
                    ("resnet", "conv"): 576_778, ("odenet", "res"): 232_970,
                    ("odenet", "conv"): 208_266, ("rknet", "res"): 232_970,
                    ("rknet", "conv"): 208_266}


def _classify_checks(spec: dict) -> tuple[ParameterCheck, ...]:
    model = spec["model"]
    if model not in TABLE1_MILLIONS:
        return ()
    key = (model, spec["architecture"].get("downsampling") if model != "mlp" else None)
    checks = [ParameterCheck(source="Table 1", millions=TABLE1_MILLIONS[model])]
    if key in REFERENCE_COUNTS:
        checks.append(ParameterCheck(source="torchdiffeq code, papers.md §1.4",
                                     exact=REFERENCE_COUNTS[key]))
    return tuple(checks)


def _classify_probe(spec: dict, device) -> Probe:
    import torch

    from replication.models import build_model, count_parameters
    from replication.ode import NFECounter
    from replication.train.classifier import training_step

    torch.manual_seed(spec["seed"])
    model = build_model(spec["model"], **spec["architecture"]).to(device)
    training = spec["training"]
    optimizer = torch.optim.SGD(model.parameters(), lr=training["lr"],
                                momentum=training["momentum"],
                                weight_decay=training["weight_decay"])
    images, labels = _classifier_batch(training["batch_size"], device)
    counter = NFECounter(model)
    model.train()

    def step() -> tuple[int, int]:
        record = training_step(model, optimizer, images, labels, counter)
        return record.nfe_forward, record.nfe_backward

    return Probe(parameters=count_parameters(model), step=step)


def plan_classify(config: dict) -> list[PlannedJob]:
    jobs = []
    for spec in experiment("table1").jobs(config):
        training, data = spec["training"], spec["data"]
        train = MNIST_TRAIN_IMAGES - data["validation_size"]
        if data["train_subset"] is not None:
            train = min(train, data["train_subset"])
        steps = training["epochs"] * (train // training["batch_size"])
        adaptive = "method" in spec["architecture"]
        history = CPU_RESULTS / "classify" / spec["model"] / "seed0" / "history.csv"
        last = _last_row(history) if adaptive else None
        trained = None if last is None else (float(last["nfe_forward_per_batch"]),
                                             float(last["nfe_backward_per_batch"]))
        note = (f"{training['epochs']} epochs × {train // training['batch_size']} batches of "
                f"{training['batch_size']}; synthetic batch; data loading, augmentation and the "
                "per-epoch validation pass not timed")
        if adaptive:
            note += (f"; trained NFE: last epoch of {_relative(history)} (epoch {last['epoch']} "
                     "of a 2-epoch run: NFE grows in training, Figure 3d, so a lower bound)"
                     if last else f"; no trained NFE ({_relative(history)} missing)")
        downsampling = spec["architecture"].get("downsampling")
        if spec["model"] in ("rknet", "odenet") and downsampling == "res":
            note += ("; papers.md §1.4: no torchdiffeq configuration gives Table 1's 0.22 M, "
                     "the 'res' downsampling that matches the ResNet's 0.60 M gives 0.23 M")
        arch = json.dumps(spec["architecture"], sort_keys=True)
        jobs.append(PlannedJob(
            experiment="table1", job=f"{spec['model']} seed {spec['seed']}",
            shape=f"{spec['model']} {arch} batch {training['batch_size']}", steps=steps,
            batch_size=training["batch_size"], checks=_classify_checks(spec),
            nfe_trained=trained, note=note,
            build=lambda device, spec=spec: _classify_probe(spec, device)))
    return jobs


# ---- FFJORD VAE table ------------------------------------------------------------------------

# papers.md §7: whole-VAE counts of the authors' code at width 1, latent size 64.
FFJORD_COUNTS = {"binarized_mnist": 145_473_121, "omniglot": 62_037_665,
                 "freyfaces": 26_352_704, "caltech101_silhouettes": 25_587_617}
IAF_COUNTS = {"binarized_mnist": 3_807_777, "freyfaces": 3_505_152}


def _image_kind(dataset: str) -> tuple[tuple[int, int, int], str, dict]:
    """(image shape, likelihood, split sizes) of a VAE dataset, from its loader module."""
    import importlib

    from replication.data.catalog import IMAGE_DATASETS

    module = importlib.import_module(IMAGE_DATASETS.module_of(dataset))
    if dataset == "freyfaces":
        return (1, module.HEIGHT, module.WIDTH), "categorical256", module.SPLIT_SIZES
    return (1, module.SIDE, module.SIDE), "bernoulli", module.SPLIT_SIZES


def _vae_checks(spec: dict) -> tuple[ParameterCheck, ...]:
    model, flow, dataset = spec["model"], spec["flow"], spec["dataset"]
    if model["latent_dim"] != 64 or model["width"] != 1.0:
        return ()
    if flow == "ffjord" and dataset in FFJORD_COUNTS:
        return (ParameterCheck(source="FFJORD code, Table 5 settings, papers.md §7",
                               exact=FFJORD_COUNTS[dataset]),)
    if flow == "iaf" and dataset in IAF_COUNTS:
        return (ParameterCheck(source="Berg et al. code, papers.md §7",
                               exact=IAF_COUNTS[dataset]),)
    if flow == "iaf" and dataset in ("omniglot", "caltech101_silhouettes"):
        # the same 28×28 Bernoulli model as MNIST's, so the same count
        return (ParameterCheck(source="papers.md §7's MNIST count: the same 28×28 Bernoulli VAE",
                               exact=IAF_COUNTS["binarized_mnist"]),)
    return ()


def _vae_probe(spec: dict, device, *, image_shape, likelihood: str) -> Probe:
    import torch

    from replication.experiments.vae_table.run import OPTIMIZERS, build_vae
    from replication.models import count_parameters
    from replication.ode import NFECounter
    from replication.train.vae import training_step

    torch.manual_seed(spec["seed"])
    model = build_vae(spec, image_shape, likelihood).to(device)
    training = spec["training"]
    optimizer = OPTIMIZERS[training["optimizer"]](model.parameters(), lr=training["lr"],
                                                  eps=training["eps"])
    images = _vae_batch(training["batch_size"], image_shape, likelihood, device)
    counter = NFECounter(model)
    model.train()

    def step() -> tuple[int, int]:
        record = training_step(model, optimizer, images, beta=1.0, counter=counter)
        return record.nfe_forward, record.nfe_backward

    return Probe(parameters=count_parameters(model), step=step)


def _cpu_ffjord_nfe(dataset: str, blocks: int) -> tuple[tuple[float, float] | None, str]:
    """Per-batch (NFE-F, NFE-B) of the cpu run's last epoch, per flow block × *blocks*."""
    run = CPU_RESULTS / "vae" / dataset / "ffjord" / "seed0"
    last = _last_row(run / "history.csv")
    if last is None or not (run / "provenance.json").is_file():
        return None, f"no trained NFE ({_relative(run)} missing: the cpu table excluded it)"
    cpu_spec = json.loads((run / "provenance.json").read_text())["spec"]
    cpu_blocks = int(cpu_spec["model"]["flow_options"].get("num_blocks", 1))
    per_block = (float(last["nfe_forward_per_batch"]) / cpu_blocks,
                 float(last["nfe_backward_per_batch"]) / cpu_blocks)
    trained = (per_block[0] * blocks, per_block[1] * blocks)
    hidden = cpu_spec["model"]["flow_options"]["hidden_dims"]
    return trained, (f"trained NFE: last epoch (epoch {last['epoch']}) of {_relative(run)}, a "
                     f"{cpu_blocks}-block flow of hidden {hidden}, per block × {blocks} blocks "
                     "(a stand-in: the paper gives no NFE)")


def plan_vae(config: dict) -> list[PlannedJob]:
    jobs = []
    for spec in experiment("vae_table").jobs(config):
        dataset, flow, training = spec["dataset"], spec["flow"], spec["training"]
        image_shape, likelihood, sizes = _image_kind(dataset)
        train = sizes["train"] if spec["data"]["train_subset"] is None else min(
            sizes["train"], spec["data"]["train_subset"])
        per_epoch = train // training["batch_size"]
        steps = training["max_epochs"] * per_epoch
        note = (f"up to {training['max_epochs']} epochs × {per_epoch} batches: early stopping "
                f"(patience {training['patience']} after the {training['warmup_epochs']}-epoch "
                "warm-up) ends runs sooner, so an upper bound; synthetic batch; validation "
                "every epoch, test −ELBO and IS-NLL not timed")
        trained = None
        slow = flow == "ffjord"
        if slow:
            options = spec["model"]["flow_options"]
            trained, source = _cpu_ffjord_nfe(dataset, int(options.get("num_blocks", 1)))
            note += (f"; {source}; FFJORD App. B.2: one GPU takes 'between four hours and three "
                     "days' per VAE; 1 step timed (the first, one-off costs included)")
        model = json.dumps(spec["model"], sort_keys=True)
        jobs.append(PlannedJob(
            experiment="vae_table", job=f"{dataset} {flow} seed {spec['seed']}",
            shape=f"{dataset} {flow} {model} batch {training['batch_size']}", steps=steps,
            batch_size=training["batch_size"], checks=_vae_checks(spec), nfe_trained=trained,
            slow=slow, note=note,
            build=lambda device, spec=spec, shape=image_shape, kind=likelihood:
                _vae_probe(spec, device, image_shape=shape, likelihood=kind)))
    return jobs


# ---- FFJORD Figure 5 -------------------------------------------------------------------------

def plan_nfe_vs_dim(config: dict) -> list[PlannedJob]:
    section = config["scales"][config["scale"]]["nfe_vs_dim"]
    training = section["training"]
    image_shape, likelihood, sizes = _image_kind(section["dataset"])
    train = sizes["train"] if section["data"]["train_subset"] is None else min(
        sizes["train"], section["data"]["train_subset"])
    per_epoch = train // training["batch_size"]
    jobs = []
    for latent_dim in section["latent_dims"]:
        spec = {"seed": section["seed"], "flow": "ffjord", "training": training,
                "model": {"latent_dim": latent_dim, "width": section["model"]["width"],
                          "flow_options": section["model"]["flow_options"]}}
        history = CPU_RESULTS / "ffjord" / "nfe_vs_dim" / f"d{latent_dim}" / "history.csv"
        last = _last_row(history)
        trained = None if last is None else (float(last["nfe_forward"]),
                                             float(last["nfe_backward"]))
        note = (f"{training['epochs']} epochs × {per_epoch} batches; synthetic batch; 1 step "
                "timed (the first); " + (
                    f"trained NFE: last epoch (epoch {last['epoch']}) of {_relative(history)}, "
                    "a smaller flow with the same solver (a stand-in)" if last else
                    f"no trained NFE ({_relative(history)} missing)"))
        jobs.append(PlannedJob(
            experiment="nfe_vs_dim", job=f"D={latent_dim}",
            shape=f"D={latent_dim} batch {training['batch_size']}",
            steps=training["epochs"] * per_epoch, batch_size=training["batch_size"],
            nfe_trained=trained, slow=True, note=note,
            build=lambda device, spec=spec: _vae_probe(spec, device, image_shape=image_shape,
                                                       likelihood=likelihood)))
    return jobs


# ---- FFJORD Figure 2 -------------------------------------------------------------------------

def _toy_probe(section: dict, dataset: str, device) -> Probe:
    import torch

    from replication.data.toy2d import sample
    from replication.experiments.toy_density.run import DTYPE, build_model, log_density
    from replication.models import count_parameters
    from replication.ode import NFECounter

    torch.manual_seed(section["seed"])
    cnf = build_model(section["model"]).to(device=device, dtype=DTYPE)
    training = section["training"]
    optimizer = torch.optim.Adam(cnf.parameters(), lr=float(training["lr"]),
                                 weight_decay=float(training["weight_decay"]))
    x = sample(dataset, int(training["batch_size"]), generator=_generator()).to(
        device=device, dtype=DTYPE)
    counter = NFECounter(cnf)

    def step() -> tuple[int, int]:
        counter.start()
        loss = -log_density(cnf, x).mean()
        counter.mark_forward()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        counter.mark_backward()
        optimizer.step()
        return counter.forward, counter.backward

    return Probe(parameters=count_parameters(cnf), step=step)


def plan_toy_density(config: dict) -> list[PlannedJob]:
    section = config["scales"][config["scale"]]["toy_density"]
    training = section["training"]
    jobs = []
    for dataset in section["datasets"]:
        history = CPU_RESULTS / "ffjord" / "toy" / dataset / "history.csv"
        last = _last_row(history)
        trained = None if last is None else (float(last["nfe_forward"]),
                                             float(last["nfe_backward"]))
        note = (f"{training['iterations']} iterations of batch {training['batch_size']} (one "
                "shape per dataset: the data sets the NFE); evaluation on the test samples and "
                "grid not timed; FFJORD §4.1: NFE 'roughly 70–100'; " + (
                    f"trained NFE: step {last['iteration']} of {_relative(history)} (same model "
                    "and solver, batch 200)" if last else
                    f"no trained NFE ({_relative(history)} missing)"))
        jobs.append(PlannedJob(
            experiment="toy_density", job=dataset, shape=dataset,
            steps=int(training["iterations"]), batch_size=int(training["batch_size"]),
            nfe_trained=trained, note=note,
            build=lambda device, dataset=dataset: _toy_probe(section, dataset, device)))
    return jobs


# ---- the article's experiments (A1–A4) -------------------------------------------------------

def _a1_probe(spec: dict, device) -> Probe:
    import numpy as np

    from replication.experiments.article import numpy_net as net

    params = net.init_params(spec["seed"])
    x = np.random.default_rng(0).standard_normal(28 * 28)

    def step() -> tuple[int, int]:
        net.train_step(params, x, 3, lr=spec["lr"], steps=spec["steps"], dt=spec["dt"],
                       update=spec["update"])
        return 0, 0

    count = int(sum(params[k].size for k in ("w1", "b1", "w2", "b2", "w3", "b3")))
    return Probe(parameters=count, step=step, torch_memory=False)


A2_PROBE_IMAGES = 500


def _a2_probe(spec: dict, a1: dict, device) -> Probe:
    import numpy as np

    from replication.experiments.article import numpy_net as net

    params = net.init_params(a1["seed"])
    images = np.random.default_rng(0).standard_normal((A2_PROBE_IMAGES, 28 * 28))
    labels = np.zeros(A2_PROBE_IMAGES, dtype=np.int64)
    test = MNIST_TEST_IMAGES if spec["test_subset"] is None else spec["test_subset"]

    def step() -> tuple[int, int]:   # every setting once, on A2_PROBE_IMAGES images
        net.evaluate_step_settings(params, images, labels, spec["settings"])
        return 0, 0

    count = int(sum(params[k].size for k in ("w1", "b1", "w2", "b2", "w3", "b3")))
    return Probe(parameters=count, step=step, torch_memory=False), test / A2_PROBE_IMAGES


def _snippet_probe(spec: dict, device) -> Probe:
    import torch
    from torch.nn import functional as F

    from replication.experiments.article.run import _solver
    from replication.experiments.article.torch_snippets import CNFClassifier, FFJORDClassifier
    from replication.models import count_parameters
    from replication.ode import NFECounter

    torch.manual_seed(spec["seed"])
    model = (CNFClassifier() if spec["experiment"] == "a3" else
             FFJORDClassifier(readout=spec["readout"], **_solver(spec["solver"]))).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    images, labels = _classifier_batch(spec["batch_size"], device)
    images = (images - 0.1307) / 0.3081
    counter = NFECounter(model)
    model.train()

    def step() -> tuple[int, int]:
        optimizer.zero_grad(set_to_none=True)
        counter.start()
        loss = F.cross_entropy(model(images), labels)
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        optimizer.step()
        return counter.forward, counter.backward

    return Probe(parameters=count_parameters(model), step=step)


def plan_article(config: dict) -> list[PlannedJob]:
    from replication.experiments.article import article_jobs

    scale = config["scale"]
    section = config["scales"][scale]["article"]
    jobs = []
    a1_seeds = {}
    for spec in article_jobs(section, scale=scale):
        experiment, seed = spec["experiment"], spec["seed"]
        if experiment == "a1":
            a1_seeds[seed] = spec
            train = MNIST_TRAIN_IMAGES if spec["train_subset"] is None else spec["train_subset"]
            jobs.append(PlannedJob(
                experiment="article", job=f"a1 seed {seed}", shape="a1", batch_size=1,
                steps=spec["epochs"] * train,
                note=(f"NumPy, one image per step ({spec['epochs']} epoch(s) × {train:,} "
                      "images); test-accuracy passes not timed; memory: NumPy, not measured"),
                build=lambda device, spec=spec: _a1_probe(spec, device)))
        elif experiment == "a2":
            settings = len(spec["settings"])

            def build(device, spec=spec):
                probe, factor = _a2_probe(spec, a1_seeds[spec["seed"]], device)
                return Probe(parameters=probe.parameters, torch_memory=False, step=probe.step,
                             seconds_factor=factor)

            jobs.append(PlannedJob(
                experiment="article", job=f"a2 seed {seed}", shape="a2", batch_size=None,
                steps=1,
                note=(f"one step = all {settings} (n, dt) settings over the test set, timed on "
                      f"{A2_PROBE_IMAGES} images and scaled to the test set; NumPy"),
                build=build))
        else:
            steps_per_epoch = math.ceil(
                (MNIST_TRAIN_IMAGES if spec["train_subset"] is None else spec["train_subset"])
                / spec["batch_size"])
            steps = spec["epochs"] * steps_per_epoch
            if spec.get("max_steps") is not None:
                steps = min(steps, spec["max_steps"])
            name = "a3" if experiment == "a3" else f"a4 {spec['readout']}"
            trained, note = None, ""
            if experiment == "a4":
                batches = CPU_RESULTS / "article" / "a4" / spec["readout"] / "seed0" / "batches.csv"
                trained = _mean_tail(batches, keys=("nfe_forward", "nfe_backward"), count=10)
                note = ("; trained NFE: mean of the last 10 steps of " + _relative(batches) +
                        " (a reduced cpu run: 30 or 150 steps of 4,690)" if trained else
                        f"; no trained NFE ({_relative(batches)} missing)")
            jobs.append(PlannedJob(
                experiment="article", job=f"{name} seed {seed}", shape=name,
                batch_size=spec["batch_size"], steps=steps, nfe_trained=trained,
                note=(f"{spec['epochs']} epochs × {steps_per_epoch} batches of "
                      f"{spec['batch_size']}; synthetic batch; evaluation and the log-density "
                      "check not timed" + note),
                build=lambda device, spec=spec: _snippet_probe(spec, device)))
    return jobs

