"""One job of FFJORD Figure 2: a maximum-likelihood CNF density of 2-D toy data, with the exact trace.

Model. A continuous normalizing flow carries a base sample z(0) ~ N(0, I) to data
x = z(T) along dz/dt = f(t, z), and the instantaneous change of variables gives

    log p(x) = log N(z(0); 0, I) − ∫₀ᵀ tr(∂f/∂z(t)) dt,

where z(0) is found by integrating from x at time T back to 0. In ℝ² the trace is computed
exactly (two vector–Jacobian products per evaluation), so log p(x) is exact up to the ODE
solver's tolerance, and the model density integrates to one; evaluating p on a grid and
summing p·(cell area) (the midpoint rule) is a direct check of that. The plotted square
[-grid_limit, grid_limit]² need not hold all the mass (data that reach its edges, like the
checkerboard's, spread a smooth model beyond it), so :func:`wide_mass` also integrates over a
square wide enough that the model puts less than ``max_outside`` (1e-3) of its mass outside:
the mass outside a square is estimated from model samples (the fraction of z(T), z(0) ~ N(0, I),
that land outside), the half-width doubles from grid_limit until that fraction is below
max_outside, and the midpoint rule with the plotted grid's cell width integrates p over it.
``metrics.json`` reports ``mass_limit`` (the half-width), ``wide_grid_mass`` and
``mass_outside`` (the sampled fraction outside it).

Dynamics. A non-amortized MLP 2 → hidden … → 2 with tanh between layers, every layer being
a "concatsquash" layer

    layer(h, t) = (W h + b) ⊙ σ(W_g t + b_g) + w_b t,

i.e. a linear map of h whose outputs are gated and shifted by functions of time (the shift
has no bias of its own, b already is one). The end time T is a parameter (log-parameterized,
``train_T``), as in FFJORD's toy experiments.

Training. Adam on −mean log p over fresh samples each step (a seeded generator; the test set
comes from a different seed stream). The run writes, into its folder: ``history.csv``,
``data.csv`` (a data sample), ``samples.csv`` (model samples z(T), z(0) ~ N(0, I)),
``density.csv`` (log p on a grid_size² grid of cell centres over [-grid_limit, grid_limit]²),
``provenance.json`` and, last, ``metrics.json``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from replication.data.toy2d import sample
from replication.flows.ffjord import CNF
from replication.measure.provenance import config_hash
from replication.ode import NFECounter
from replication.results import write_csv
from replication.train.progress import report

REQUIRED = {
    None: ("dataset", "seed", "device", "model", "training", "evaluation", "scale"),
    "model": ("hidden_dims", "T", "train_T", "method", "rtol", "atol", "gradient"),
    "training": ("iterations", "batch_size", "lr", "weight_decay", "log_every"),
    "evaluation": ("test_samples", "grid_size", "grid_limit", "eval_batch_size"),
}
PANEL_POINTS = 2000  # at most this many points in the data and model-sample panels
DTYPE = torch.float32
_STREAMS = {"init": 0, "train": 1, "test": 2, "panel": 3, "mass": 4}


class ConcatSquashLinear(nn.Module):
    """``(W h + b) ⊙ σ(W_g t + b_g) + w_b t``: a linear layer gated and shifted by time."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(1, out_features)
        self.shift = nn.Linear(1, out_features, bias=False)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        t = t.reshape(1, 1).to(h.dtype)
        return self.linear(h) * torch.sigmoid(self.gate(t)) + self.shift(t)


class ToyODENet(nn.Module):
    """f(t, z): concatsquash layers dim → hidden_dims … → dim, tanh between them."""

    def __init__(self, *, dim: int = 2, hidden_dims: Sequence[int] = (64, 64, 64)) -> None:
        super().__init__()
        widths = [dim, *[int(w) for w in hidden_dims], dim]
        if any(w <= 0 for w in widths):
            raise ValueError(f"hidden_dims must be positive, got {list(hidden_dims)}")
        self.layers = nn.ModuleList(ConcatSquashLinear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = z
        for index, layer in enumerate(self.layers):
            h = layer(t, h)
            if index < len(self.layers) - 1:
                h = torch.tanh(h)
        return h


def build_model(model_spec: dict) -> CNF:
    """The exact-trace CNF of a spec's ``model`` block."""
    dynamics = ToyODENet(hidden_dims=model_spec["hidden_dims"])
    return CNF(dynamics, T=float(model_spec["T"]), train_T=bool(model_spec["train_T"]),
               method=model_spec["method"], rtol=float(model_spec["rtol"]),
               atol=float(model_spec["atol"]), gradient=model_spec["gradient"], trace="exact")


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))


def log_density(cnf: CNF, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log N(z₀; 0, I) + log|det ∂z₀/∂x|, integrating x from T back to 0."""
    z0, log_det = cnf(x, (), reverse=True)
    return standard_normal_log_density(z0) + log_det


def batched_log_density(cnf: CNF, x: torch.Tensor, *,
                        batch_size: int) -> tuple[torch.Tensor, float]:
    """log p of every row of *x* (no gradients), and the mean NFE of one batch's solve."""
    values, calls = [], []
    with torch.no_grad():
        for batch in x.split(batch_size):
            before = cnf.calls
            values.append(log_density(cnf, batch))
            calls.append(cnf.calls - before)
    return torch.cat(values), float(np.mean(calls))


def grid_points(*, size: int, limit: float) -> tuple[torch.Tensor, float]:
    """The centres of a size × size grid of cells tiling [-limit, limit]², and a cell's area.

    Rows run over y fastest (x-major order); Σ p(centre)·area is the midpoint rule for ∫p.
    """
    width = 2 * limit / size
    axis = -limit + width * (torch.arange(size, dtype=torch.float64) + 0.5)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1), width * width


def model_samples(cnf: CNF, *, count: int, batch_size: int, generator: torch.Generator,
                  device: torch.device) -> torch.Tensor:
    """*count* model samples z(T) from z(0) ~ N(0, I) (float64, on the CPU)."""
    base = torch.randn(count, 2, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        return torch.cat([cnf(z.to(device=device, dtype=DTYPE))[0].double().cpu()
                          for z in base.split(batch_size)])


def outside_fraction(points: torch.Tensor, limit: float) -> float:
    """The fraction of *points* outside the square [-limit, limit]²."""
    return float((points.abs() > limit).any(dim=1).double().mean())


def wide_mass(cnf: CNF, *, samples: torch.Tensor, grid_limit: float, grid_size: int,
              batch_size: int, device: torch.device, max_outside: float = 1e-3,
              max_doublings: int = 3) -> dict:
    """The model's mass over the smallest square [-L, L]², L = grid_limit·2^k (k ≤
    *max_doublings*), outside which fewer than *max_outside* of the model *samples* fall,
    integrated by the midpoint rule at the plotted grid's cell width."""
    limit = float(grid_limit)
    for _ in range(max_doublings):
        if outside_fraction(samples, limit) < max_outside:
            break
        limit *= 2
    size = int(round(grid_size * limit / grid_limit))
    grid, cell_area = grid_points(size=size, limit=limit)
    log_p, _ = batched_log_density(cnf, grid.to(device=device, dtype=DTYPE),
                                   batch_size=batch_size)
    return {"mass_limit": limit, "wide_grid_mass": float(log_p.double().exp().sum() * cell_area),
            "mass_outside": outside_fraction(samples, limit), "mass_samples": len(samples)}


def check_spec(spec: dict) -> None:
    for block, keys in REQUIRED.items():
        where = spec if block is None else spec.get(block)
        if not isinstance(where, dict):
            raise ValueError(f"toy_density spec: {block!r} must be a mapping, got {where!r}")
        missing = [key for key in keys if key not in where]
        if missing:
            name = "spec" if block is None else f"spec[{block!r}]"
            raise ValueError(f"toy_density {name} is missing required key(s): {', '.join(missing)}")


def _generator(seed: int, stream: str) -> torch.Generator:
    """An independent generator per (seed, purpose), so test data never overlaps training."""
    state = np.random.SeedSequence([int(seed), _STREAMS[stream]]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _points_rows(points: torch.Tensor) -> list[dict]:
    return [{"x": float(x), "y": float(y)} for x, y in points.double().cpu().tolist()]


def train(cnf: CNF, *, dataset: str, seed: int, device: torch.device, training: dict) -> dict:
    """Maximum likelihood with Adam; returns the history rows and the last step's NFE."""
    iterations, batch_size = int(training["iterations"]), int(training["batch_size"])
    log_every = max(1, int(training["log_every"]))
    optimizer = torch.optim.Adam(cnf.parameters(), lr=float(training["lr"]),
                                 weight_decay=float(training["weight_decay"]))
    generator = _generator(seed, "train")
    counter = NFECounter(cnf)
    history, window, seconds = [], [], 0.0
    for iteration in range(1, iterations + 1):
        started = time.perf_counter()
        x = sample(dataset, batch_size, generator=generator).to(device=device, dtype=DTYPE)
        counter.start()
        loss = -log_density(cnf, x).mean()
        counter.mark_forward()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        counter.mark_backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds += time.perf_counter() - started
        window.append(loss.item())
        if not math.isfinite(window[-1]):
            raise FloatingPointError(
                f"{dataset}: the loss is {window[-1]} at iteration {iteration}")
        if iteration % log_every == 0 or iteration == iterations:
            row = {"iteration": iteration, "loss": float(np.mean(window)),
                   "nfe_forward": counter.forward, "nfe_backward": counter.backward,
                   "seconds": seconds}
            history.append(row)
            window = []
            report(f"toy_density {dataset}: iteration {iteration}/{iterations} "
                   f"loss {row['loss']:.4f} NFE-F {counter.forward} NFE-B {counter.backward} "
                   f"T {cnf.T.item():.4f} {seconds:.1f}s")
    return {"history": history, "nfe_forward": counter.forward,
            "nfe_backward": counter.backward, "seconds": seconds}


def run(spec: dict, job) -> dict:
    """Train one CNF on one toy dataset and evaluate its density; returns ``metrics.json``."""
    check_spec(spec)
    out_dir = job.out_dir
    dataset, seed = spec["dataset"], int(spec["seed"])
    training, evaluation = spec["training"], spec["evaluation"]
    sample(dataset, 0, generator=torch.Generator())  # an unknown dataset fails before training
    device = torch.device(spec["device"])

    with torch.random.fork_rng(devices=[]):  # seeded initialization, global RNG left untouched
        torch.manual_seed(int(_generator(seed, "init").initial_seed()))
        cnf = build_model(spec["model"]).to(device=device, dtype=DTYPE)
    fit = train(cnf, dataset=dataset, seed=seed, device=device, training=training)
    cnf.eval()

    eval_batch = int(evaluation["eval_batch_size"])
    test_x = sample(dataset, int(evaluation["test_samples"]), generator=_generator(seed, "test"))
    test_log_p, test_nfe = batched_log_density(cnf, test_x.to(device=device, dtype=DTYPE),
                                               batch_size=eval_batch)
    grid, cell_area = grid_points(size=int(evaluation["grid_size"]),
                                  limit=float(evaluation["grid_limit"]))
    grid_log_p, _ = batched_log_density(cnf, grid.to(device=device, dtype=DTYPE),
                                        batch_size=eval_batch)
    grid_log_p = grid_log_p.double().cpu()
    grid_mass = float(grid_log_p.exp().sum() * cell_area)

    mass = wide_mass(
        cnf, samples=model_samples(cnf, count=int(evaluation.get("mass_samples", 20000)),
                                   batch_size=eval_batch, generator=_generator(seed, "mass"),
                                   device=device),
        grid_limit=float(evaluation["grid_limit"]), grid_size=int(evaluation["grid_size"]),
        batch_size=eval_batch, device=device)

    panel = min(PANEL_POINTS, int(evaluation["test_samples"]))
    panel_generator = _generator(seed, "panel")
    data_panel = sample(dataset, panel, generator=panel_generator)
    base = torch.randn(panel, 2, generator=panel_generator, dtype=torch.float64)
    with torch.no_grad():
        model_panel = torch.cat([cnf(z.to(device=device, dtype=DTYPE))[0].cpu()
                                 for z in base.split(eval_batch)])

    write_csv(out_dir / "history.csv", fit["history"])
    write_csv(out_dir / "data.csv", _points_rows(data_panel))
    write_csv(out_dir / "samples.csv", _points_rows(model_panel))
    write_csv(out_dir / "density.csv",
              [{"x": float(x), "y": float(y), "log_density": float(v)}
               for (x, y), v in zip(grid.tolist(), grid_log_p.tolist())])
    metrics = {
        "experiment": "toy_density",
        "scale": spec["scale"],
        "dataset": dataset,
        "seed": seed,
        "device": str(device),
        "test_log_likelihood_nats": float(test_log_p.double().mean()),
        "test_samples": int(test_x.shape[0]),
        "test_nfe_forward": test_nfe,
        "grid_mass": grid_mass,
        "grid_size": int(evaluation["grid_size"]),
        "grid_limit": float(evaluation["grid_limit"]),
        **mass,
        "nfe_forward": fit["nfe_forward"],
        "nfe_backward": fit["nfe_backward"],
        "T": float(cnf.T.item()),
        "parameters": sum(p.numel() for p in cnf.parameters()),
        "train_seconds": fit["seconds"],
        "iterations": int(training["iterations"]),
        "final_train_loss": fit["history"][-1]["loss"] if fit["history"] else None,
        "config_hash": config_hash(spec),
    }
    return metrics
