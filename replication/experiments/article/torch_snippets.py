"""A3/A4: the article's "CNF" and "FFJORD" MNIST classifier snippets, run as it writes them.

Both snippets: inputs flattened to 784 and normalised (``ToTensor`` + ``Normalize((0.1307,),
(0.3081,))``), dynamics ``Linear(784, 64) → tanh → Linear(64, 64) → tanh → Linear(64, 784)``
(no time input), then ``Linear(784, 10)`` and cross-entropy; Adam with default settings,
batch 64 (``shuffle=True``, last partial batch kept), 5 epochs, on all 60,000 training
images; test accuracy on the 10,000 test images (batch 64, in order).

* A3, "CNF" (:class:`CNFClassifier`): 9 explicit Euler steps over ``linspace(0, 1, 10)``,
  written out in the forward pass and differentiated directly (NFE-F = 9, NFE-B = 0).
  Nothing about it is a normalizing flow: it is a weight-tied 9-block ResNet.
* A4, "FFJORD" (:class:`FFJORDClassifier`): the state ``(z, log p, ε)`` with
  dz/dt = net(z), d log p/dt = −εᵀ(∂net/∂z)ε (Hutchinson), dε/dt = 0, solved by
  ``torchdiffeq.odeint_adjoint`` over [0, 1] with its defaults (dopri5, rtol 1e-7, atol 1e-9),
  ε ~ N(0, I) drawn once per forward pass from torch's global RNG.

Ambiguity of the FFJORD snippet, resolved by an explicit ``readout`` option:
``zT, log_p_zT = solution[-1][:2]``. For a tuple state ``odeint`` returns a *tuple* of
trajectories ``(z(t), log p(t), ε(t))``, so ``solution[-1]`` is ε's trajectory and ``[:2]``
its two time points: the code as written classifies ``fc(ε)``, the Hutchinson noise, whose
gradient with respect to the dynamics is exactly zero (``readout="as_written"``). The comment
"Take only z and log_p_z from the last time step" states the intent, ``fc(z(1))``
(``readout="z_T"``). The log-density is unused by the loss under either readout.

:func:`log_density_effect` measures whether carrying ``log p`` and ε changes training: the
gradient of the loss with and without them (same parameters, batch and ε), and NFE-F/NFE-B.
With a fixed-step solver the z-trajectory is computed by the same operations either way, so
the gradients agree exactly; with the article's adaptive dopri5 the extra states enter the
step-size control (torchdiffeq's error norm is the max over the tuple's parts), which changes
the steps taken — the NFE and, at rounding level, the gradient.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from replication.data.mnist import Split
from replication.experiments.article.data import normalise_torch
from replication.models import count_parameters
from replication.ode import CountedFunction, NFECounter, integrate
from replication.train.seeding import epoch_generator, seed_everything

DIM = 28 * 28
READOUTS = ("as_written", "z_T")
# torchdiffeq's defaults, which the article's ``odeint(self.ffjord, states, times)`` uses.
ARTICLE_SOLVER = {"method": "dopri5", "rtol": 1e-7, "atol": 1e-9, "options": None}


def dynamics_net(dim: int = DIM) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                         nn.Linear(64, dim))


class CNFDynamics(nn.Module):
    """The article's ``CNF`` module: dz/dt = net(z) (its ``t`` argument is unused)."""

    def __init__(self, dim: int = DIM) -> None:
        super().__init__()
        self.net = dynamics_net(dim)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class CNFClassifier(nn.Module):
    """The article's ``CNFModel``: explicit Euler on ``linspace(0, 1, 10)``, then a linear layer."""

    def __init__(self, dim: int = DIM, integration_steps: int = 10) -> None:
        super().__init__()
        self.cnf = CountedFunction(CNFDynamics(dim))
        self.fc = nn.Linear(dim, 10)
        self.integration_steps = integration_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.view(x.size(0), -1)
        t = torch.linspace(0, 1, self.integration_steps).to(z.device)
        for i in range(1, self.integration_steps):
            dz = self.cnf(t[i - 1], z)
            z = z + dz * (t[i] - t[i - 1])
        return self.fc(z)


class FFJORDDynamics(nn.Module):
    """The article's ``FFJORD`` module for the state ``(z, log p, ε)``; ``(z,)`` carries z only."""

    def __init__(self, dim: int = DIM) -> None:
        super().__init__()
        self.net = dynamics_net(dim)

    def forward(self, t: torch.Tensor, states: tuple[torch.Tensor, ...]):
        if len(states) == 1:  # the comparison without the log-density term
            return (self.net(states[0]),)
        z, log_p_z, epsilon = states
        with torch.set_grad_enabled(True):
            z.requires_grad_(True)
            dz_dt = self.net(z)
            epsilon_dz_dt = torch.sum(epsilon * dz_dt, dim=1)
            grad_epsilon_dz_dt = torch.autograd.grad(
                epsilon_dz_dt, z, torch.ones_like(epsilon_dz_dt), create_graph=True)[0]
            trace = torch.sum(grad_epsilon_dz_dt * epsilon, dim=1)
            dlog_p_z_dt = -trace
        return dz_dt, dlog_p_z_dt, torch.zeros_like(epsilon)


class FFJORDClassifier(nn.Module):
    """The article's ``FFJORDModel``: ``odeint_adjoint`` over [0, 1], then ``Linear(784, 10)``.

    ``readout``: ``"as_written"`` classifies ``solution[-1][:2]``'s first entry (ε at t = 0, see
    the module docstring); ``"z_T"`` classifies z(1). ``carry_log_density=False`` integrates z
    alone (same network, same solver) for the comparison of :func:`log_density_effect`.
    """

    def __init__(self, dim: int = DIM, *, readout: str = "as_written",
                 carry_log_density: bool = True, method: str = "dopri5", rtol: float = 1e-7,
                 atol: float = 1e-9, options: dict | None = None) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if readout == "as_written" and not carry_log_density:
            raise ValueError("the as-written readout reads ε, carried only with the log-density")
        self.ffjord = CountedFunction(FFJORDDynamics(dim))
        self.register_buffer("integration_times", torch.tensor([0.0, 1.0]))
        self.fc = nn.Linear(dim, 10)
        self.readout = readout
        self.carry_log_density = carry_log_density
        self.solver = {"method": method, "rtol": rtol, "atol": atol, "options": options}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z0 = x.view(x.size(0), -1)
        if not self.carry_log_density:
            solution = integrate(self.ffjord, (z0,), self.integration_times, gradient="adjoint",
                                 **self.solver)
            return self.fc(solution[0][-1])
        log_p_z0 = torch.zeros(z0.size(0), device=z0.device)
        epsilon = torch.randn_like(z0)
        states = (z0, log_p_z0, epsilon)
        solution = integrate(self.ffjord, states, self.integration_times, gradient="adjoint",
                             **self.solver)
        if self.readout == "as_written":
            zT, log_p_zT = solution[-1][:2]  # noqa: N806 (the article's line, verbatim)
        else:
            zT, log_p_zT = solution[0][-1], solution[1][-1]  # noqa: N806
        return self.fc(zT)


@dataclass(frozen=True)
class Step:
    epoch: int
    batch: int
    loss: float
    errors: int
    size: int
    nfe_forward: int
    nfe_backward: int
    seconds: float


def _batches(split: Split, *, batch_size: int, generator: torch.Generator):
    """Shuffled batches, the last partial one kept (``DataLoader(shuffle=True)``)."""
    order = torch.randperm(len(split), generator=generator)
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        yield normalise_torch(split.images[index]), split.labels[index]


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, *, batch_size: int,
             device: torch.device | str = "cpu") -> dict:
    """Test accuracy in order, batch by batch, with mean NFE-F per batch."""
    model.eval()
    counter = NFECounter(model)
    correct = 0
    nfe = []
    start = time.perf_counter()
    for i in range(0, len(split), batch_size):
        images = normalise_torch(split.images[i:i + batch_size]).to(device)
        counter.start()
        logits = model(images)
        counter.mark_forward()
        nfe.append(counter.forward)
        correct += int((logits.argmax(1).cpu() == split.labels[i:i + batch_size]).sum())
    return {"accuracy": correct / max(len(split), 1),
            "nfe_forward_per_batch": statistics.fmean(nfe) if nfe else 0.0,
            "seconds": time.perf_counter() - start}


def train_classifier(
    model: nn.Module, *, train: Split, test: Split, epochs: int, batch_size: int, seed: int,
    max_steps: int | None = None, eval_batch_size: int = 64, device: torch.device | str = "cpu",
    progress: Callable[[Step], None] | None = None,
) -> tuple[dict, list[Step]]:
    """Adam (defaults), cross-entropy, shuffled batches; stop after *max_steps* if given.

    Returns metrics (accuracy, parameters, seconds, steps, NFE) and one record per batch.
    The model must be built after :func:`seed_everything` for a seeded initialisation.
    """
    device = torch.device(device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters())
    counter = NFECounter(model)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    full_steps = epochs * steps_per_epoch
    planned = full_steps if max_steps is None else min(max_steps, full_steps)
    records: list[Step] = []
    for epoch in range(1, epochs + 1):
        if len(records) >= planned:
            break
        model.train()
        batches = _batches(train, batch_size=batch_size, generator=epoch_generator(seed, epoch))
        for batch, (images, labels) in enumerate(batches, start=1):
            if len(records) >= planned:
                break
            images, labels = images.to(device), labels.to(device)
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            counter.start()
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            counter.mark_forward()
            loss.backward()
            counter.mark_backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            record = Step(epoch=epoch, batch=batch, loss=loss.item(),
                          errors=int((logits.argmax(1) != labels).sum()), size=len(labels),
                          nfe_forward=counter.forward, nfe_backward=counter.backward,
                          seconds=time.perf_counter() - start)
            records.append(record)
            if progress is not None:
                progress(record)
    test_eval = evaluate(model, test, batch_size=eval_batch_size, device=device)
    train_seconds = sum(r.seconds for r in records)
    step_seconds = train_seconds / max(len(records), 1)
    # The first step pays one-off costs (lazy initialisation in torch); the estimate leaves it out.
    steady = statistics.fmean(r.seconds for r in records[1:]) if len(records) > 1 else step_seconds
    tail = records[-min(len(records), steps_per_epoch // 10 or 1):]
    metrics = {
        "test_accuracy": test_eval["accuracy"],
        "test_error": 1.0 - test_eval["accuracy"],
        "test_nfe_forward_per_batch": test_eval["nfe_forward_per_batch"],
        "eval_seconds": test_eval["seconds"],
        "parameters": count_parameters(model),
        "train_seconds": train_seconds,
        "step_seconds": step_seconds,
        "steps": len(records),
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "epochs_completed": len(records) / steps_per_epoch,
        "full_run_steps": full_steps,
        "reduced": len(records) < full_steps,
        "step_seconds_after_first": steady,
        "estimated_full_run_train_seconds": steady * full_steps,
        "nfe_forward_per_batch": statistics.fmean(r.nfe_forward for r in records),
        "nfe_backward_per_batch": statistics.fmean(r.nfe_backward for r in records),
        "nfe_forward_first": records[0].nfe_forward,
        "nfe_backward_first": records[0].nfe_backward,
        "nfe_forward_last": records[-1].nfe_forward,
        "nfe_backward_last": records[-1].nfe_backward,
        "final_train_loss": statistics.fmean(r.loss for r in tail),
        "final_train_error": sum(r.errors for r in tail) / sum(r.size for r in tail),
        "train_size": len(train),
        "test_size": len(test),
        "batch_size": batch_size,
        "seed": seed,
        "device": str(device),
    }
    return metrics, records


def train_cnf_classifier(
    *, train: Split, test: Split, epochs: int = 5, batch_size: int = 64, seed: int = 0,
    max_steps: int | None = None, eval_batch_size: int = 64, device: torch.device | str = "cpu",
    progress: Callable[[Step], None] | None = None,
) -> dict:
    """A3: the article's "CNF" classifier; metrics plus ``records`` (one per batch)."""
    seed_everything(seed)
    model = CNFClassifier()
    metrics, records = train_classifier(
        model, train=train, test=test, epochs=epochs, batch_size=batch_size, seed=seed,
        max_steps=max_steps, eval_batch_size=eval_batch_size, device=device, progress=progress)
    return {**metrics, "model": "cnf_snippet", "euler_steps": model.integration_steps - 1,
            "records": [asdict(r) for r in records]}


def _rng_devices(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


def _gradients(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, seed: int):
    """Loss, logits, parameter gradients and NFE-F/NFE-B of one batch; ε from *seed*."""
    counter = NFECounter(model)
    model.train()
    model.zero_grad(set_to_none=True)
    with torch.random.fork_rng(devices=_rng_devices(images.device)):
        torch.manual_seed(seed)
        start = time.perf_counter()
        counter.start()
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        seconds = time.perf_counter() - start
    grads = {name: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
             for name, p in model.named_parameters()}
    return loss.item(), logits.detach(), grads, counter.forward, counter.backward, seconds


def log_density_effect(model: FFJORDClassifier, images: torch.Tensor, labels: torch.Tensor, *,
                       seed: int, solver: dict | None = None) -> dict:
    """Does carrying ``(log p, ε)`` change the training gradient? One batch, copies of *model*.

    Compares the z(1) readout with the log-density term carried along against z alone, with
    identical parameters, batch and ε, under *solver* (default: the model's own). Reports the
    largest absolute difference of any parameter gradient (and of the logits), the largest
    gradient for scale, and NFE-F/NFE-B and seconds of each. Also reports the largest
    gradient reaching the dynamics under the article's as-written readout (``fc(ε)``).
    """
    solver = dict(model.solver if solver is None else solver)
    variants = {}
    # Building the copies must not move the run's RNG.
    with torch.random.fork_rng(devices=_rng_devices(images.device)):
        for name, carry, readout in (("with", True, "z_T"), ("without", False, "z_T"),
                                     ("as_written", True, "as_written")):
            trial = FFJORDClassifier(readout=readout, carry_log_density=carry, **solver)
            trial.load_state_dict(model.state_dict())
            trial.to(images.device)
            variants[name] = _gradients(trial, images, labels, seed=seed)
    (loss_w, logits_w, grads_w, f_w, b_w, s_w) = variants["with"]
    (loss_o, logits_o, grads_o, f_o, b_o, s_o) = variants["without"]
    grads_a = variants["as_written"][2]
    return {
        "solver": {k: v for k, v in solver.items()},
        "max_abs_grad_diff": max(float((grads_w[k] - grads_o[k]).abs().max()) for k in grads_w),
        "max_abs_grad": max(float(g.abs().max()) for g in grads_w.values()),
        "max_abs_logit_diff": float((logits_w - logits_o).abs().max()),
        "loss_with": loss_w, "loss_without": loss_o,
        "nfe_forward_with": f_w, "nfe_backward_with": b_w,
        "nfe_forward_without": f_o, "nfe_backward_without": b_o,
        "seconds_with": s_w, "seconds_without": s_o,
        "as_written_dynamics_max_abs_grad": max(
            float(g.abs().max()) for k, g in grads_a.items() if k.startswith("ffjord.")),
        "batch_size": len(labels),
    }


def train_ffjord_classifier(
    *, train: Split, test: Split, epochs: int = 5, batch_size: int = 64, seed: int = 0,
    max_steps: int | None = None, eval_batch_size: int = 64, readout: str = "as_written",
    solver: dict | None = None, check_solvers: dict | None = None, check_batch_size: int = 64,
    device: torch.device | str = "cpu", progress: Callable[[Step], None] | None = None,
) -> dict:
    """A4: the article's "FFJORD" classifier; metrics plus ``records`` (one per batch).

    *solver* defaults to the article's (torchdiffeq's defaults). *check_solvers* names solver
    settings for :func:`log_density_effect`, run on the first training batch before training
    and again after it (default: the training solver only).
    """
    solver = dict(ARTICLE_SOLVER if solver is None else solver)
    check_solvers = {"training_solver": solver} if check_solvers is None else check_solvers
    seed_everything(seed)
    device = torch.device(device)
    model = FFJORDClassifier(readout=readout, **solver).to(device)
    first = [t.to(device) for t in next(_batches(train, batch_size=check_batch_size,
                                                 generator=epoch_generator(seed, 1)))]

    def check() -> dict:
        return {name: log_density_effect(model, *first, seed=seed, solver=settings)
                for name, settings in check_solvers.items()}

    checks = {"initial": check()}
    metrics, records = train_classifier(
        model, train=train, test=test, epochs=epochs, batch_size=batch_size, seed=seed,
        max_steps=max_steps, eval_batch_size=eval_batch_size, device=device, progress=progress)
    checks["final"] = check()
    return {**metrics, "model": "ffjord_snippet", "readout": readout, "solver": solver,
            "log_density_effect": checks, "records": [asdict(r) for r in records]}


__all__ = ["CNFClassifier", "FFJORDClassifier", "evaluate", "log_density_effect",
           "train_cnf_classifier", "train_ffjord_classifier"]
