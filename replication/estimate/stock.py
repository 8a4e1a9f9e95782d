"""Where we stand: the suite's training step against the stock torchdiffeq path, interleaved.

For each model the same weights, the same batch and the same optimizer settings are trained two
ways, one step of each per round, alternately:

* **ours**: the suite's own step — the model as :mod:`replication.models` and
  :mod:`replication.flows` build it, integrated through :func:`replication.ode.integrate` (the
  step-limit watch and its callbacks) with :class:`~replication.ode.CountedFunction` counting
  NFE, trained by the suite's step function (:func:`replication.train.classifier.training_step`,
  :func:`replication.train.vae.training_step`, or the loop body of
  :func:`replication.train.latent_ode.train_latent_ode`, which has no one-step function).
* **stock**: the same modules (a deep copy, so the same weights) with every ODE solved by plain
  ``torchdiffeq.odeint`` / ``odeint_adjoint`` at the model's own method, rtol and atol and
  default options, as the authors' reference scripts call it, and a bare training loop (zero
  grads, forward, loss, backward, update). NFE is counted as those scripts count it: an integer
  incremented in the function the solver calls (here a plain callable around the dynamics, not a
  module). Models without a solver (ResNet) are the same ``nn.Module`` trained by the bare loop.

Before timing, one forward pass of each side gives the output difference (logits; the VAE's
per-image −ELBO; the latent ODE's decoded trajectories) and one training step of each, from the
same weights, gives the loss and parameter-gradient differences and the NFE-F/NFE-B of each
side. Both sides then keep training in lockstep: same update from the same gradients, so the
parameters stay equal when the numerics are equal (``max_abs_param_diff_after`` checks it).

Timing reuses the speed gates' machinery (:func:`replication.regress.speed.paired_benchmark`,
medians of per-round ratios): the stock step is the timed "subject", our step the "reference",
so each round's ratio is a speed-up, stock time ÷ our time (> 1: ours is faster). Rounds
alternate which side runs first, so neither always runs on the other's warm caches. Beside the
wall time, each step's process CPU time is recorded (``cpu_speedup_*``): on a shared machine the
wall time also holds the time a step waited for a core.

Run: ``python -m replication.estimate.stock --out results/benchmarks/cpu --threads 1``
(``--help`` lists the options). Writes ``speed_vs_stock.csv``, ``speed_vs_stock.md`` and
``provenance.json`` (and ``profile.md`` with ``--profile``).

It lives in ``estimate`` (timing on the machine at hand), not in the science library
(``measure``), because it reads the config and the experiments' builders.
"""
from __future__ import annotations

import copy
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torchdiffeq import odeint, odeint_adjoint

from replication.models.latent_ode import LatentODE
from replication.models.odenet import ODEBlock

MODELS = ("odenet", "rknet", "resnet", "ffjord_vae", "latent_ode")
LABELS = {
    "odenet": "ODE-Net (adjoint)",
    "rknet": "RK-Net = ODE-Net without the adjoint (backprop through dopri5)",
    "resnet": "ResNet (no solver)",
    "ffjord_vae": "FFJORD VAE (MNIST, cpu-scale flow, adjoint)",
    "latent_ode": "latent ODE (spirals, adjoint, float64)",
}
COLUMNS = ("model", "our_seconds", "stock_seconds", "speedup_median", "speedup_min",
           "speedup_max", "rounds", "cpu_speedup_median", "cpu_speedup_min", "cpu_speedup_max",
           "nfe_forward_ours", "nfe_backward_ours", "nfe_forward_stock",
           "nfe_backward_stock", "max_abs_output_diff", "max_abs_loss_diff", "max_abs_grad_diff",
           "max_abs_param_diff_after", "max_abs_output", "max_abs_grad", "nfe_equal_every_round",
           "threads", "batch_size", "device", "description")
NOISE_SEED = 2          # the VAE's z_0 and Hutchinson noise: reseeded before every step, each side
LATENT_SEED = 1         # the latent ODE's z_0 noise generator, reseeded before every step
SPIRALS = {"n_observed": 30, "noise_std": 0.3}   # torchdiffeq's latent_ode.py noise; spec §8.1


# --- the stock path -----------------------------------------------------------------------------

class Tally:
    """The function a stock solve calls: the dynamics, and an integer count of evaluations
    (what the reference scripts keep in their ODE function's ``nfe``). A plain callable, not a
    module, so the solver goes through no extra module call; the adjoint then needs
    ``adjoint_params`` given (the dynamics' parameters, which is its default for a module)."""

    def __init__(self, dynamics: Callable) -> None:
        self.dynamics = dynamics
        self.calls = 0

    def __call__(self, t, state):
        self.calls += 1
        return self.dynamics(t, state)


def _tallies_total(tallies: Sequence[Tally]) -> int:
    return sum(tally.calls for tally in tallies)


def stock_solve(func: Tally, y0, t: torch.Tensor, *, method: str, rtol: float, atol: float,
                adjoint: bool, adjoint_params: Sequence[torch.Tensor] = ()):
    """Plain ``odeint_adjoint`` (with *adjoint_params*) or ``odeint``, default options."""
    if adjoint:
        return odeint_adjoint(func, y0, t, method=method, rtol=rtol, atol=atol,
                              adjoint_params=tuple(adjoint_params))
    return odeint(func, y0, t, method=method, rtol=rtol, atol=atol)


class StockODEBlock(nn.Module):
    """The ODE-Net's block as torchdiffeq's ``odenet_mnist.py`` writes it: h(1) of a solve over
    [0, 1] by ``odeint`` or ``odeint_adjoint`` at the block's method and tolerances."""

    def __init__(self, dynamics: nn.Module, *, method: str, rtol: float, atol: float,
                 adjoint: bool) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.tally = Tally(dynamics)
        self.method, self.rtol, self.atol, self.adjoint = method, rtol, atol, adjoint
        self.register_buffer("integration_time", torch.tensor([0.0, 1.0]), persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = stock_solve(self.tally, h, self.integration_time.type_as(h), method=self.method,
                          rtol=self.rtol, atol=self.atol, adjoint=self.adjoint,
                          adjoint_params=tuple(self.dynamics.parameters()))
        return out[1]


def stock_classifier(model: nn.Sequential) -> tuple[nn.Sequential, list[Tally]]:
    """A deep copy of a Table 1 classifier with each ODE block replaced by a
    :class:`StockODEBlock` on the same (copied) dynamics; parameters in the same order."""
    layers, tallies = [], []
    for layer in copy.deepcopy(model):
        if isinstance(layer, ODEBlock):
            layer = StockODEBlock(layer.func.dynamics, method=layer.method, rtol=layer.rtol,
                                  atol=layer.atol, adjoint=layer.gradient == "adjoint")
            tallies.append(layer.tally)
        layers.append(layer)
    return nn.Sequential(*layers), tallies


class StockFFJORDFlow(nn.Module):
    """An FFJORD flow's blocks solved by plain torchdiffeq (as FFJORD's own CNF calls it):
    per block, the amortized weights cut from the head, the Hutchinson noise drawn once per
    solve (the same draws, in the same order, as :class:`~replication.flows.ffjord.CNF`), the
    augmented state (z, log-det) integrated over [0, T]; with the adjoint, ``adjoint_params``
    = the block's parameters and the amortized tensors, as the suite's CNF passes them."""

    def __init__(self, flow: nn.Module) -> None:
        super().__init__()
        self.flow = flow   # the FFJORDFlow, so that parameters keep their order
        self.tallies = [Tally(block.odefunc.dynamics) for block in flow.blocks]

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from replication.flows.ffjord import _Solve
        from replication.ode.trace import sample_noise

        log_det = z.new_zeros(z.shape[0])
        for head, block, tally in zip(self.flow.heads, self.flow.blocks, self.tallies):
            augmented = block.odefunc.dynamics          # TraceAugmentedDynamics
            extra = augmented.dynamics.split(head(context))
            exact = block.uses_exact_trace()
            augmented.solve = _Solve(tuple(extra), exact,
                                     None if exact else sample_noise(z, block.noise))
            times = torch.stack([z.new_zeros(()), augmented.T.to(device=z.device, dtype=z.dtype)])
            adjoint = block.gradient == "adjoint" and torch.is_grad_enabled()
            zs, ls = stock_solve(tally, (z, z.new_zeros(z.shape[0])), times, method=block.method,
                                 rtol=block.rtol, atol=block.atol, adjoint=adjoint,
                                 adjoint_params=tuple(augmented.parameters()) + tuple(extra))
            z, log_det = zs[-1], log_det + ls[-1]
        return z, log_det


def stock_vae(vae: nn.Module) -> tuple[nn.Module, list[Tally]]:
    """A deep copy of a VAE whose FFJORD flow is a :class:`StockFFJORDFlow`."""
    stock = copy.deepcopy(vae)
    stock.flow = StockFFJORDFlow(stock.flow)
    return stock, stock.flow.tallies


class StockLatentODE(LatentODE):
    """The latent ODE with its trajectory solved by plain torchdiffeq, as torchdiffeq's
    ``latent_ode.py`` example does (``odeint(func, z0, times)``), at the model's solver; the
    solver calls ``self.tally`` (a :class:`Tally` of the raw dynamics, set by the builder)."""

    tally: Tally

    def latent_trajectory(self, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        solver = self.solver
        path = stock_solve(self.tally, z0, times, method=solver["method"], rtol=solver["rtol"],
                           atol=solver["atol"], adjoint=solver["gradient"] == "adjoint",
                           adjoint_params=tuple(self.dynamics.parameters()))
        return path.transpose(0, 1)


# --- one model, two sides -----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Side:
    """One way of training a model: its module (parameters in the other side's order), one
    training step returning (loss, NFE-F, NFE-B), and an untimed forward pass for the check."""

    module: nn.Module
    step: Callable[[], tuple[float, int, int]]
    output: Callable[[], torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class Pair:
    model: str
    description: str
    batch_size: int
    device: str
    ours: Side
    stock: Side


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _sgd(module: nn.Module, training: dict) -> torch.optim.Optimizer:
    return torch.optim.SGD(module.parameters(), lr=training["lr"], momentum=training["momentum"],
                           weight_decay=training["weight_decay"])


def classifier_pair(*, model: str, architecture: dict, training: dict, batch_size: int,
                    seed: int = 0, device: str = "cpu") -> Pair:
    """A Table 1 classifier (odenet, rknet, resnet, …) built as the job builds it, on a
    synthetic MNIST-shaped batch; SGD with the job's lr, momentum and weight decay."""
    from replication.estimate.plans import _classifier_batch
    from replication.models import build_model
    from replication.ode import NFECounter
    from replication.train.classifier import training_step

    where = torch.device(device)
    torch.manual_seed(seed)
    ours = build_model(model, **architecture).to(where).train()
    stock, tallies = stock_classifier(ours)
    stock.train()
    images, labels = _classifier_batch(batch_size, where)
    ours_optimizer, stock_optimizer = _sgd(ours, training), _sgd(stock, training)
    counter = NFECounter(ours)

    def ours_step() -> tuple[float, int, int]:
        record = training_step(ours, ours_optimizer, images, labels, counter)
        return record.loss, record.nfe_forward, record.nfe_backward

    def stock_step() -> tuple[float, int, int]:
        stock_optimizer.zero_grad(set_to_none=True)
        start = _tallies_total(tallies)
        loss = F.cross_entropy(stock(images), labels)
        forward = _tallies_total(tallies) - start
        loss.backward()
        backward = _tallies_total(tallies) - start - forward
        stock_optimizer.step()
        _synchronize(where)
        return loss.item(), forward, backward

    return Pair(model=model, description=f"{model} {architecture}, SGD {training['lr']:g}",
                batch_size=batch_size, device=device,
                ours=Side(module=ours, step=ours_step, output=lambda: ours(images)),
                stock=Side(module=stock, step=stock_step, output=lambda: stock(images)))


def ffjord_vae_pair(*, spec: dict, batch_size: int, device: str = "cpu") -> Pair:
    """The VAE table's FFJORD VAE of *spec* (a ``vae_table`` job spec), built by the job's
    builder, on a synthetic batch of its data set's shape; its optimizer (Adamax) and β = 1.
    Both sides reseed the global RNG before every step (z₀ and the Hutchinson noise)."""
    from replication.estimate.plans import _image_kind, _vae_batch
    from replication.experiments.vae_table.run import OPTIMIZERS, build_vae
    from replication.ode import NFECounter
    from replication.train.vae import training_step
    from replication.vae.objective import negative_elbo

    if spec["flow"] != "ffjord":
        raise ValueError(f"ffjord_vae_pair needs a vae_table spec with flow 'ffjord', "
                         f"got {spec['flow']!r}")
    where = torch.device(device)
    image_shape, likelihood, _ = _image_kind(spec["dataset"])
    torch.manual_seed(spec["seed"])
    ours = build_vae(spec, image_shape, likelihood).to(where).train()
    stock, tallies = stock_vae(ours)
    stock.train()
    images = _vae_batch(batch_size, image_shape, likelihood, where)
    training = spec["training"]

    def optimizer(module):
        return OPTIMIZERS[training["optimizer"]](module.parameters(), lr=training["lr"],
                                                 eps=training["eps"])

    ours_optimizer, stock_optimizer = optimizer(ours), optimizer(stock)
    counter = NFECounter(ours)

    def ours_step() -> tuple[float, int, int]:
        torch.manual_seed(NOISE_SEED)
        record = training_step(ours, ours_optimizer, images, beta=1.0, counter=counter)
        return record.loss, record.nfe_forward, record.nfe_backward

    def stock_step() -> tuple[float, int, int]:
        torch.manual_seed(NOISE_SEED)
        stock_optimizer.zero_grad(set_to_none=True)
        start = _tallies_total(tallies)
        loss = negative_elbo(stock, images, beta=1.0).loss.mean()
        forward = _tallies_total(tallies) - start
        loss.backward()
        backward = _tallies_total(tallies) - start - forward
        stock_optimizer.step()
        _synchronize(where)
        return loss.item(), forward, backward

    def output(module):
        def run() -> torch.Tensor:
            torch.manual_seed(NOISE_SEED)
            return negative_elbo(module, images, beta=1.0).loss
        return run

    flow = spec["model"]["flow_options"]
    return Pair(model="ffjord_vae",
                description=(f"{spec['dataset']} VAE width {spec['model']['width']}, FFJORD "
                             f"{flow}, {training['optimizer']} {training['lr']:g}"),
                batch_size=batch_size, device=device,
                ours=Side(module=ours, step=ours_step, output=output(ours)),
                stock=Side(module=stock, step=stock_step, output=output(stock)))


def latent_ode_pair(*, batch_size: int, lr: float = 0.01, n_observed: int = SPIRALS["n_observed"],
                    noise_std: float = SPIRALS["noise_std"], n_window: int = 100, seed: int = 0,
                    device: str = "cpu", **model_options) -> Pair:
    """The latent ODE at its paper settings (the model's defaults: dopri5 at 1.5e-8, adjoint,
    float64; *model_options* override them) on *batch_size* spirals (:func:`make_spirals`,
    *n_observed* of *n_window* grid points, noise σ = *noise_std*, also the likelihood's σ, as the
    trainer's choice); Adam at *lr* (torchdiffeq's example). The ELBO's solve stops at the end
    of the window, as in training."""
    from replication.data.spirals import DTYPE, make_spirals

    if batch_size < 2 or batch_size % 2:
        raise ValueError(f"latent_ode_pair: batch_size is the number of spirals, an even "
                         f"number >= 2 (half per direction), got {batch_size}")
    where = torch.device(device)
    data = make_spirals(n_spirals=batch_size, generator=torch.Generator().manual_seed(seed),
                        n_observed=n_observed, noise_std=noise_std, n_window=n_window)
    x, t = (tensor.to(where) for tensor in data.observations())
    observed = data.observed.to(where)
    window = data.times[: data.n_window].to(where)
    options = {"obs_std": noise_std, **model_options}
    torch.manual_seed(seed)
    ours = LatentODE(**options).to(device=where, dtype=DTYPE).train()
    stock = StockLatentODE(**options).to(device=where, dtype=DTYPE).train()
    stock.load_state_dict(ours.state_dict())
    stock.tally = Tally(stock.dynamics.dynamics)   # the raw dynamics, not the CountedFunction
    ours_optimizer = torch.optim.Adam(ours.parameters(), lr=lr)
    stock_optimizer = torch.optim.Adam(stock.parameters(), lr=lr)

    def ours_step() -> tuple[float, int, int]:   # train_latent_ode's loop body
        generator = torch.Generator(device=where).manual_seed(LATENT_SEED)
        calls = ours.dynamics.calls
        terms = ours.elbo(x, t, observed, window, generator=generator)
        forward = ours.dynamics.calls - calls
        ours_optimizer.zero_grad()
        (-terms["elbo"]).backward()
        ours_optimizer.step()
        _synchronize(where)
        return float(terms["elbo"].detach()), forward, ours.dynamics.calls - calls - forward

    def stock_step() -> tuple[float, int, int]:
        generator = torch.Generator(device=where).manual_seed(LATENT_SEED)
        calls = stock.tally.calls
        terms = stock.elbo(x, t, observed, window, generator=generator)
        forward = stock.tally.calls - calls
        stock_optimizer.zero_grad()
        (-terms["elbo"]).backward()
        stock_optimizer.step()
        _synchronize(where)
        return float(terms["elbo"].detach()), forward, stock.tally.calls - calls - forward

    solver = ours.solver
    return Pair(model="latent_ode",
                description=(f"spirals n={n_observed}/{n_window}, σ={noise_std:g}; "
                             f"{solver['method']} rtol={solver['rtol']:g} atol={solver['atol']:g} "
                             f"{solver['gradient']}; Adam {lr:g}"),
                batch_size=batch_size, device=device,
                ours=Side(module=ours, step=ours_step,
                          output=lambda: ours.predict(x, t, data.times.to(where))),
                stock=Side(module=stock, step=stock_step,
                           output=lambda: stock.predict(x, t, data.times.to(where))))


def pairs_from_config(config: dict, *, models: Sequence[str] = MODELS, device: str = "cpu",
                      latent_batch_size: int = 100) -> list[Pair]:
    """The pairs of *models*, at the resolved scale of *config* (``load_config`` output): the
    Table 1 jobs' architecture and batch, the VAE table's binarized-MNIST FFJORD job; the
    latent ODE (no experiment yet) at its paper settings on *latent_batch_size* spirals."""
    from replication.experiments.registry import experiment

    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    classify = {spec["model"]: spec for spec in experiment("table1").jobs(config)}
    vae = [spec for spec in experiment("vae_table").jobs(config)
           if spec["flow"] == "ffjord" and spec["dataset"] == "binarized_mnist"]
    pairs = []
    for name in models:
        if name in ("odenet", "rknet", "resnet"):
            if name not in classify:
                raise ValueError(f"scale {config['scale']} has no table1 job for {name}")
            spec = classify[name]
            pairs.append(classifier_pair(model=name, architecture=spec["architecture"],
                                         training=spec["training"],
                                         batch_size=spec["training"]["batch_size"],
                                         seed=spec["seed"], device=device))
        elif name == "ffjord_vae":
            if not vae:
                raise ValueError(f"scale {config['scale']} has no binarized_mnist FFJORD VAE job")
            pairs.append(ffjord_vae_pair(spec=vae[0], batch_size=vae[0]["training"]["batch_size"],
                                         device=device))
        else:
            pairs.append(latent_ode_pair(batch_size=latent_batch_size, device=device))
    return pairs


# --- the measurement ----------------------------------------------------------------------------

class AlternatingRounds:
    """Runs rounds for :func:`~replication.regress.speed.paired_benchmark` outside pytest, with
    pytest-benchmark's ``pedantic`` signature: each round calls ``setup`` (the reference) and
    ``target`` (the subject) once, the reference first in even rounds and second in odd ones."""

    def pedantic(self, target: Callable[[], object], *, setup: Callable[[], None], rounds: int,
                 warmup_rounds: int = 0, iterations: int = 1):
        if iterations != 1:
            raise ValueError("AlternatingRounds times one call per round (iterations=1)")
        result = None
        for index in range(warmup_rounds + rounds):
            if index % 2 == 0:
                setup()
                result = target()
            else:
                result = target()
                setup()
        return result


def _max_abs_diff(a, b) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None or a.shape != b.shape:
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float((a.detach() - b.detach()).abs().max())


def _parameters(pair: Pair) -> list[tuple[nn.Parameter, nn.Parameter]]:
    ours, stock = list(pair.ours.module.parameters()), list(pair.stock.module.parameters())
    if [p.shape for p in ours] != [p.shape for p in stock]:
        raise ValueError(f"{pair.model}: the two sides' parameters differ in number or shape")
    return list(zip(ours, stock))


def measure_pair(pair: Pair, *, rounds: int, warmup_rounds: int = 1) -> dict:
    """Check, then time, one pair; returns its row (see ``COLUMNS``)."""
    from replication.regress.speed import paired_benchmark

    if rounds < 1 or warmup_rounds < 0:
        raise ValueError(f"need rounds >= 1 and warmup_rounds >= 0, got {rounds} and "
                         f"{warmup_rounds}")
    parameters = _parameters(pair)
    with torch.no_grad():
        initial = max(_max_abs_diff(a, b) for a, b in parameters)
    if initial != 0.0:
        raise ValueError(f"{pair.model}: the two sides start from different weights "
                         f"(max |Δ| {initial:g})")
    ours_output = pair.ours.output().detach()
    output_diff = _max_abs_diff(ours_output, pair.stock.output())
    ours_first, stock_first = pair.ours.step(), pair.stock.step()   # from the same weights
    grad_diff = max(_max_abs_diff(a.grad, b.grad) for a, b in parameters)
    grad_scale = max((float(a.grad.abs().max()) for a, _ in parameters
                      if a.grad is not None and a.grad.numel()), default=0.0)

    counts: dict[str, list[tuple[int, int]]] = {"ours": [], "stock": []}
    cpu: dict[str, list[float]] = {"ours": [], "stock": []}

    def recorded(side: str, step: Callable[[], tuple[float, int, int]]):
        def run():
            start = time.process_time()
            _, forward, backward = step()
            cpu[side].append(time.process_time() - start)
            counts[side].append((forward, backward))
        return run

    # subject = stock, reference = ours: each round's ratio is stock time / our time
    timing, _ = paired_benchmark(AlternatingRounds(), recorded("stock", pair.stock.step),
                                 recorded("ours", pair.ours.step), rounds=rounds,
                                 warmup_rounds=warmup_rounds)
    with torch.no_grad():
        param_diff = max(_max_abs_diff(a, b) for a, b in parameters)
    # the process's CPU time of each step (all its threads), beside the wall time: time spent
    # descheduled on a loaded machine is not in it
    cpu_ratios = [s / o for s, o in zip(cpu["stock"][warmup_rounds:], cpu["ours"][warmup_rounds:])]
    return {
        "model": pair.model,
        "our_seconds": statistics.median(timing.reference),
        "stock_seconds": statistics.median(timing.subject),
        "speedup_median": timing.ratio,
        "speedup_min": min(timing.ratios),
        "speedup_max": max(timing.ratios),
        "rounds": timing.rounds,
        "cpu_speedup_median": statistics.median(cpu_ratios),
        "cpu_speedup_min": min(cpu_ratios),
        "cpu_speedup_max": max(cpu_ratios),
        "nfe_forward_ours": ours_first[1], "nfe_backward_ours": ours_first[2],
        "nfe_forward_stock": stock_first[1], "nfe_backward_stock": stock_first[2],
        "max_abs_output_diff": output_diff,
        "max_abs_loss_diff": abs(ours_first[0] - stock_first[0]),
        "max_abs_grad_diff": grad_diff,
        "max_abs_param_diff_after": param_diff,
        "max_abs_output": float(ours_output.abs().max()),   # the scale of the differences above
        "max_abs_grad": grad_scale,
        "nfe_equal_every_round": counts["ours"] == counts["stock"],
        "threads": torch.get_num_threads(),
        "batch_size": pair.batch_size,
        "device": pair.device,
        "description": pair.description,
    }


def measure(pairs: Sequence[Pair], *, rounds: int, warmup_rounds: int = 1,
            progress: Callable[[str], None] = lambda line: None) -> list[dict]:
    rows = []
    for pair in pairs:
        row = measure_pair(pair, rounds=rounds, warmup_rounds=warmup_rounds)
        progress(f"{pair.model}: speed-up {row['speedup_median']:.3f} "
                 f"[{row['speedup_min']:.3f}, {row['speedup_max']:.3f}], ours "
                 f"{row['our_seconds']:.3f} s, stock {row['stock_seconds']:.3f} s, NFE "
                 f"{row['nfe_forward_ours']}/{row['nfe_backward_ours']} vs "
                 f"{row['nfe_forward_stock']}/{row['nfe_backward_stock']}")
        rows.append(row)
    return rows


# --- the outputs --------------------------------------------------------------------------------

def to_csv(rows: Sequence[dict]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (f"{value:.6g}" if isinstance(value, float) else value)
                         for key, value in row.items()})
    return buffer.getvalue()


def to_markdown(rows: Sequence[dict], *, preamble: Sequence[str] = ()) -> str:
    lines = [*preamble, *([""] if preamble else []),
             ("| model | speed-up (stock ÷ ours): wall, median [min, max] | CPU time, median "
             "[min, max] | ours s / step | stock s / step | NFE-F / NFE-B ours | NFE-F / NFE-B "
             "stock | max abs Δ output | max abs Δ grad | rounds | batch |"),
             "|---|---|---|---:|---:|---|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {LABELS.get(row['model'], row['model'])} | {row['speedup_median']:.3f} "
            f"[{row['speedup_min']:.3f}, {row['speedup_max']:.3f}] | "
            f"{row['cpu_speedup_median']:.3f} [{row['cpu_speedup_min']:.3f}, "
            f"{row['cpu_speedup_max']:.3f}] | {row['our_seconds']:.3f} | "
            f"{row['stock_seconds']:.3f} | {row['nfe_forward_ours']} / {row['nfe_backward_ours']}"
            f" | {row['nfe_forward_stock']} / {row['nfe_backward_stock']} | "
            f"{row['max_abs_output_diff']:.3g} | {row['max_abs_grad_diff']:.3g} | "
            f"{row['rounds']} | {row['batch_size']} |")
    return "\n".join(lines) + "\n"


def profile_pair(pair: Pair, *, row_limit: int = 12) -> str:
    """torch.profiler's top operators (by self CPU time) of one training step of each side,
    as Markdown: where the time goes, for comparing the two paths op by op."""
    from torch.profiler import ProfilerActivity, profile

    sections = [f"## {LABELS.get(pair.model, pair.model)}", ""]
    for name, side in (("ours", pair.ours), ("stock", pair.stock)):
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            side.step()
        table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit)
        sections += [f"### {name}", "", "```", table.rstrip(), "```", ""]
    return "\n".join(sections)


def write(rows: Sequence[dict], *, out: Path, provenance: dict) -> list[Path]:
    from replication.results import write_json, write_text

    out = Path(out)
    started = provenance.get("started", "")
    preamble = [
        (f"Measured {started} on `{provenance.get('cpu_model')}` ({provenance.get('device')}), "
        f"{provenance.get('torch_threads')} torch thread(s), CPU capability "
        f"{provenance.get('cpu_capability')}, load average "
        f"{provenance['load_average_before'][0]:.1f} at the start and "
        f"{provenance['load_average_after'][0]:.1f} at the end; commit "
        f"{str(provenance.get('git_sha'))[:12]}"
        f"{' (dirty)' if provenance.get('git_dirty') else ''}; `python -m "
        f"replication.estimate.stock` ({provenance['spec']['rounds']} interleaved rounds after "
        f"{provenance['spec']['warmup_rounds']} warm-up).")]
    paths = [out / "speed_vs_stock.csv", out / "speed_vs_stock.md", out / "provenance.json"]
    write_text(paths[0], to_csv(rows))
    write_text(paths[1], to_markdown(rows, preamble=preamble))
    write_json(paths[2], provenance)
    return paths


def run(*, out: Path, models: Sequence[str] = MODELS, rounds: int = 20, warmup_rounds: int = 1,
        threads: int = 1, scale: str = "cpu", config_path: Path | None = None,
        device: str = "cpu", latent_batch_size: int = 100, profile: bool = False,
        progress: Callable[[str], None] = lambda line: None) -> list[dict]:
    """Build the pairs of *models* at *scale*, measure them, write the three files under *out*
    (and, with *profile*, ``profile.md``: one profiled step of each side after the rounds)."""
    from replication.config import CONFIG_PATH, load_config
    from replication.fingerprint import code_fingerprint
    from replication.measure.provenance import provenance, start_record

    torch.set_num_threads(threads)
    started, load_before = start_record(), os.getloadavg()
    clock = time.perf_counter()
    config = load_config(config_path or CONFIG_PATH, overrides={"scale": scale})
    pairs = pairs_from_config(config, models=models, device=device,
                              latent_batch_size=latent_batch_size)
    rows = measure(pairs, rounds=rounds, warmup_rounds=warmup_rounds, progress=progress)
    spec = {"scale": scale, "models": list(models), "rounds": rounds,
            "warmup_rounds": warmup_rounds, "threads": threads, "device": device,
            "latent_batch_size": latent_batch_size,
            "pairs": {pair.model: pair.description for pair in pairs}}
    record = provenance(spec=spec, code_fingerprint=code_fingerprint("replication.estimate.stock"),
                        device=device, started=started)
    record.update(seconds=time.perf_counter() - clock, load_average_before=load_before,
                  load_average_after=os.getloadavg(),
                  thread_variables={name: os.environ.get(name) for name in (
                      "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    write(rows, out=out, provenance=record)
    if profile:
        from replication.results import write_text

        write_text(Path(out) / "profile.md", "\n".join(
            ["# One training step of each side, torch.profiler's top operators by self CPU time",
             "", (f"Commit {started['git_sha'][:12]}, {threads} thread(s), after the timed "
                  "rounds (the weights have trained that many steps). One step per side: "
                  "compare the operators and their call counts; the times are one sample each "
                  "and move with the machine's load (the timed rounds are in "
                  "speed_vs_stock.md)."), ""]
            + [profile_pair(pair) for pair in pairs]))
    return rows


if __name__ == "__main__":
    import argparse

    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
        return value

    def nonnegative(text: str) -> int:
        value = int(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
        return value

    parser = argparse.ArgumentParser(
        prog="python -m replication.estimate.stock",
        description="Time each model's training step against the stock torchdiffeq path "
                    "(interleaved rounds, same weights and batch); write speed_vs_stock.csv, "
                    "speed_vs_stock.md and provenance.json.")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for speed_vs_stock.csv, speed_vs_stock.md, provenance.json "
                             "(e.g. results/benchmarks/cpu)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help=f"models to measure (default: all: {', '.join(MODELS)})")
    parser.add_argument("--rounds", type=positive, default=20,
                        help="timed rounds, one step of each side per round (default 20)")
    parser.add_argument("--warmup-rounds", type=nonnegative, default=1,
                        help="untimed rounds after the check step (default 1)")
    parser.add_argument("--threads", type=positive, default=1, help="torch threads (default 1)")
    parser.add_argument("--scale", choices=("smoke", "cpu", "paper"), default="cpu",
                        help="the config scale whose Table 1 and VAE jobs set architecture and "
                             "batch (default cpu)")
    parser.add_argument("--config", type=Path, default=None,
                        help="the workflow's config file (default: config/config.yaml)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--latent-batch-size", type=positive, default=100,
                        help="spirals per latent ODE batch, even (default 100)")
    parser.add_argument("--profile", action="store_true",
                        help="also write profile.md: torch.profiler's top operators of one step "
                             "of each side (off by default)")
    args = parser.parse_args()
    from replication.train.progress import report

    run(out=args.out, models=args.models, rounds=args.rounds, warmup_rounds=args.warmup_rounds,
        threads=args.threads, scale=args.scale, config_path=args.config, device=args.device,
        latent_batch_size=args.latent_batch_size, profile=args.profile, progress=report)
