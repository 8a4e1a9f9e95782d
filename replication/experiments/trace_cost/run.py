"""Exact trace vs Hutchinson's estimator: cost per function evaluation and variance vs D.

A continuous normalizing flow integrates d log p / dt = -tr(∂f/∂z) alongside dz/dt = f, so
every function evaluation (one NFE) needs the trace of the D×D Jacobian J = ∂f/∂z at each of
the B points of a batch. This experiment measures what that costs, and what the cheap
alternative gives up, as the dimension D grows — the argument that motivates FFJORD.

**Cost.** The dynamics here is a random MLP f: R^D → R^D, D → H → H → D with tanh, and a
fixed hidden width H. One evaluation of f (and one vector-Jacobian product, whose cost is
the same up to a constant) costs O(B·(2·D·H + H²)) multiply-adds, which is O(D·H) per sample
and hence ∝ D once D·H dominates H² — that is why H is held fixed: the growth of every
method then comes from D alone. Reverse mode gives one Jacobian row eᵢᵀJ per vjp, so

* f alone ............................ O(D·H)
* f + Hutchinson (εᵀJ, one vjp) ...... O(D·H)         — same order as f
* f + exact trace (D vjps) ........... O(D·(D·H)) = O(D²·H)

per sample. The measured log-log slopes of seconds against D, fitted over the larger D where
fixed per-call overheads (Python, kernel launches) no longer dominate, show how close the
implementation comes to 1, 1 and 2. Because of the H² term the ideal slopes over a finite
range are a little under those (for H = 128 over D = 64…1024: about 0.8 for f and
Hutchinson, 1.8 for exact); :func:`model_flops` gives them, and each fit reports its
``model_slope`` beside the measured one. The exact trace is timed with the plain loop of D vjps
and, up to ``vectorized_max_dim``, also with the batched ``is_grads_batched`` version (the
same arithmetic in one call: fewer Python round trips, D times the memory).

Every timed call records the autograd graph of f, as a CNF must; ε for Hutchinson is drawn
once beforehand (FFJORD holds it fixed over a solve), so noise sampling is not timed.

**Variance.** Hutchinson's estimator tr(J) ≈ εᵀJε is unbiased for any ε with E[ε] = 0 and
Cov[ε] = I. Writing εᵀJε = εᵀSε with S = ½(J + Jᵀ), its variance is

* Gaussian ε:    Var = 2‖S‖_F² = ‖J‖_F² + tr(J²) = ½‖J + Jᵀ‖_F²,
* Rademacher ε:  Var = 2‖S‖_F² − 2·Σᵢ Sᵢᵢ² = ½‖J + Jᵀ‖_F² − 2·Σᵢ Jᵢᵢ²  (never larger),

(Rademacher has εᵢ² ≡ 1, so the diagonal contributes no noise). For ``jacobian_samples``
points the full Jacobian is built from D vjps and these analytic variances are compared with
the empirical variance of the real estimator (:func:`~replication.ode.trace.hutchinson_trace`)
over ``variance_draws`` independent draws of ε. The bottleneck trick (FFJORD §3.1.1) is
measured by its closed forms too: with f = g ∘ h, h(z) = W₁z + b₁ ∈ ℝ^H, the trace is that of
the H×H matrix M = W₁ ∂g/∂h (:func:`bottleneck_matrix`), whose variances (same formulas, ε
in ℝ^H) are the ``var_*_bottleneck_analytic`` columns. The relative standard deviation reported is
sqrt(mean Var) / sqrt(mean tr²) over those points, from the analytic variances — an RMS
ratio, so a point whose trace happens to be near zero does not dominate it. For a random
MLP the diagonal entries of J are zero-mean, so tr(J) = O(1) while ‖J‖_F² grows with D: one
draw of the estimator is then very noisy relative to the trace (averaging over a batch and
over the solve's steps is what makes it usable in training).

Outputs in ``out_dir``: ``points.csv`` (one row per D), ``provenance.json`` and, last,
``metrics.json`` (fitted slopes).
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from replication.measure.provenance import config_hash
from replication.ode.trace import NoiseKind, exact_trace, hutchinson_trace, sample_noise
from replication.results import write_csv
from replication.train.progress import report

if TYPE_CHECKING:
    import pandas as pd

# Every key comes from the scale's trace_cost section (config/config.yaml says what each means).
REQUIRED_KEYS = ("scale", "seed", "device", "dims", "hidden", "batch_size", "repeats",
                 "variance_draws", "jacobian_samples", "fit_min_dim", "vectorized_max_dim",
                 "exact_budget_seconds")
METHODS = ("f", "hutchinson", "exact", "exact_vectorized")


class RandomMLP(nn.Module):
    """f(z) = W₃ tanh(W₂ tanh(W₁ z + b₁) + b₂) + b₃, D → H → H → D, seeded, time-independent.

    Weights are N(0, 1/fan_in) (so activations stay O(1) at any D), biases N(0, 0.1²). The
    CNF's time argument is irrelevant to the cost of a trace and is left out.
    """

    def __init__(self, dim: int, hidden: int, *, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        widths = (dim, hidden, hidden, dim)
        self.layers = nn.ModuleList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)  # no draw from global RNG
            with torch.no_grad():
                layer.weight.copy_(torch.randn(fan_out, fan_in, generator=generator)
                                   / math.sqrt(fan_in))
                layer.bias.copy_(0.1 * torch.randn(fan_out, generator=generator))
            self.layers.append(layer)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        *hidden_layers, last = self.layers
        for layer in hidden_layers:
            z = torch.tanh(layer(z))
        return last(z)

    def after_bottleneck(self, h: torch.Tensor) -> torch.Tensor:
        """g in f = g ∘ h, h(z) = W₁ z + b₁ ∈ ℝ^H: the rest of the network."""
        first, *hidden_layers, last = self.layers
        h = torch.tanh(h)
        for layer in hidden_layers:
            h = torch.tanh(layer(h))
        return last(h)


def bottleneck_matrix(func: RandomMLP, z: torch.Tensor) -> torch.Tensor:
    """FFJORD §3.1.1's bottleneck trick: tr(∂f/∂z) = tr(∂h/∂z ∂g/∂h) for f = g ∘ h, so
    Hutchinson's estimator can use ε ∈ ℝ^H with the H×H matrix M = W₁ ∂g/∂h, shape (B, H, H)."""
    first = func.layers[0]
    h = first(z.detach())
    return first.weight.double() @ jacobian_from_vjps(func.after_bottleneck, h).double()


# ---- the estimator's variance ------------------------------------------------------------------

def analytic_variance(jacobian: torch.Tensor, kind: NoiseKind) -> torch.Tensor:
    """Var[εᵀJε] for ε ~ N(0, I) or Rademacher, per matrix of ``jacobian`` (shape (..., D, D))."""
    gaussian = 0.5 * (jacobian + jacobian.transpose(-1, -2)).square().sum((-1, -2))  # 2‖S‖_F²
    if kind == "gaussian":
        return gaussian
    if kind == "rademacher":
        return gaussian - 2.0 * torch.diagonal(jacobian, dim1=-2, dim2=-1).square().sum(-1)
    raise ValueError(f"noise must be 'gaussian' or 'rademacher', got {kind!r}")


def jacobian_from_vjps(func: Callable[[torch.Tensor], torch.Tensor],
                       z: torch.Tensor) -> torch.Tensor:
    """∂f/∂z per sample, shape (B, D, D), from D vjps (rows eᵢᵀJ; samples must not interact)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        out = func(z)
        rows = [torch.autograd.grad(out[:, i].sum(), z, retain_graph=True)[0]
                for i in range(out.shape[1])]
    return torch.stack(rows, dim=1)  # rows[i][b] = (eᵢᵀ J_b), so J[b, i, :]


def empirical_variance(func: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, *,
                       kind: NoiseKind, draws: int, chunk_elements: int = 2**22) -> torch.Tensor:
    """Unbiased sample variance of Hutchinson's estimate over ``draws`` draws of ε, per point.

    The draws are batched: ``z`` (shape (B, D)) is repeated k times and one forward pass and
    one vjp give k·B independent estimates. Uses the global RNG of ``z``'s device — seed it,
    or wrap the call in :func:`torch.random.fork_rng`, for reproducible draws.
    """
    if draws < 2:
        raise ValueError(f"variance needs at least 2 draws, got {draws}")
    batch, dim = z.shape
    per_chunk = max(1, chunk_elements // (batch * dim))
    estimates = []
    for start in range(0, draws, per_chunk):
        k = min(per_chunk, draws - start)
        repeated = z.detach().repeat(k, 1).requires_grad_(True)
        with torch.enable_grad():
            out = func(repeated)
            noise = sample_noise(repeated, kind)
            estimate = hutchinson_trace(out, repeated, noise)
        estimates.append(estimate.detach().view(k, batch))
    return torch.cat(estimates).double().var(dim=0, unbiased=True)


# ---- timing ------------------------------------------------------------------------------------

def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(call: Callable[[], object], *, repeats: int, device: torch.device,
                   budget_seconds: float = math.inf) -> tuple[float, int]:
    """(median wall time of ``call``, number of timed repeats), after one untimed warm-up.

    When ``budget_seconds`` is finite the repeats are cut to what fits in it, estimated from
    the warm-up (at least one timed repeat always runs).
    """
    start = time.perf_counter()
    call()
    _synchronize(device)
    warm_up = time.perf_counter() - start
    if math.isfinite(budget_seconds):
        repeats = max(1, min(repeats, int(budget_seconds / max(warm_up, 1e-9))))
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        _synchronize(device)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), repeats


def time_methods(func: nn.Module, z: torch.Tensor, noise: torch.Tensor, *, repeats: int,
                 device: torch.device, vectorized: bool, exact_budget_seconds: float) -> dict:
    """Seconds per function evaluation of f, f + Hutchinson, f + exact trace (loop, batched).

    ``noise`` is Hutchinson's ε, drawn beforehand and held fixed, as over one ODE solve.
    """
    z = z.detach().requires_grad_(True)

    def f_only() -> None:
        with torch.enable_grad():
            func(z)

    def with_hutchinson() -> None:
        with torch.enable_grad():
            hutchinson_trace(func(z), z, noise)

    def with_exact(vectorize: bool) -> None:
        with torch.enable_grad():
            exact_trace(func(z), z, vectorize=vectorize)

    timed = {}
    timed["f_seconds"], _ = median_seconds(f_only, repeats=repeats, device=device)
    timed["hutchinson_seconds"], _ = median_seconds(with_hutchinson, repeats=repeats,
                                                    device=device)
    timed["exact_seconds"], timed["exact_repeats"] = median_seconds(
        lambda: with_exact(False), repeats=repeats, device=device,
        budget_seconds=exact_budget_seconds)
    timed["exact_vectorized_seconds"], timed["exact_vectorized_repeats"] = (
        median_seconds(lambda: with_exact(True), repeats=repeats, device=device,
                       budget_seconds=exact_budget_seconds)
        if vectorized else (math.nan, 0))
    return timed


# ---- fits --------------------------------------------------------------------------------------

def model_flops(dim: int, hidden: int, batch: int) -> dict[str, int]:
    """Matrix-multiply FLOPs per function evaluation of each method (the ideal cost model).

    f: 2·B·(D·H + H² + H·D). A vjp with respect to z only (no parameter gradients) multiplies
    by the same three weight matrices, so costs as much again: Hutchinson ≈ 2·f, exact ≈
    (1 + D)·f. Elementwise work and per-call overheads are left out — they are what makes the
    measured slopes differ from these at small D.
    """
    f = 2 * batch * (2 * dim * hidden + hidden * hidden)
    return {"f": f, "hutchinson": 2 * f, "exact": (1 + dim) * f, "exact_vectorized": (1 + dim) * f}



def fit_slopes(points: Sequence[dict] | pd.DataFrame, *, min_dim: int) -> dict[str, dict]:
    """Least-squares slope of log(seconds) against log(D) over D ≥ ``min_dim``, per method.

    ``points`` is a list of row dicts or a pandas DataFrame with a ``dim`` column and
    ``<method>_seconds`` columns; where ``hidden`` and ``batch_size`` columns are present, the
    slope of :func:`model_flops` over the same dims is given too (``model_slope``), the value
    the measured slope would take if time were proportional to matrix-multiply FLOPs. Methods
    with fewer than two finite points in range are left out.
    """
    rows = points.to_dict("records") if hasattr(points, "to_dict") else list(points)
    fits = {}
    for method in METHODS:
        column = f"{method}_seconds"
        used = [row for row in rows if column in row and row["dim"] >= min_dim
                and math.isfinite(float(row[column])) and float(row[column]) > 0]
        if len(used) < 2:
            continue
        log_dims = np.log([float(row["dim"]) for row in used])
        slope, intercept = np.polyfit(log_dims, np.log([float(row[column]) for row in used]), 1)
        fit = {"slope": float(slope), "intercept": float(intercept),
               "min_dim": int(min(row["dim"] for row in used)),
               "max_dim": int(max(row["dim"] for row in used)), "points": len(used),
               "model_slope": math.nan}
        if all("hidden" in row and "batch_size" in row for row in used):
            flops = [model_flops(int(row["dim"]), int(row["hidden"]), int(row["batch_size"]))
                     [method] for row in used]
            fit["model_slope"] = float(np.polyfit(log_dims, np.log(flops), 1)[0])
        fits[method] = fit
    return fits


# ---- the job -----------------------------------------------------------------------------------

def _check_spec(spec: dict) -> dict:
    missing = [key for key in REQUIRED_KEYS if key not in spec]
    if missing:
        raise ValueError(f"trace-cost spec is missing required key(s) {missing}; "
                         f"required: {list(REQUIRED_KEYS)}")
    settings = dict(spec)
    dims = settings["dims"]
    if not dims or any(not isinstance(d, int) or d < 1 for d in dims):
        raise ValueError(f"trace-cost spec 'dims' must be a non-empty list of positive "
                         f"integers, got {dims!r}")
    for key in ("hidden", "batch_size", "repeats", "jacobian_samples"):
        if int(settings[key]) < 1:
            raise ValueError(f"trace-cost spec {key!r} must be ≥ 1, got {settings[key]!r}")
    if int(settings["variance_draws"]) < 2:
        raise ValueError(f"trace-cost spec 'variance_draws' must be ≥ 2, "
                         f"got {settings['variance_draws']!r}")
    if int(settings["jacobian_samples"]) > int(settings["batch_size"]):
        raise ValueError("trace-cost spec 'jacobian_samples' must not exceed 'batch_size'")
    device = torch.device(settings["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"trace-cost spec asks for device {settings['device']!r}, "
                         "but CUDA is not available here")
    return settings


def measure_dim(dim: int, settings: dict, *, device: torch.device) -> dict:
    """One row of ``points.csv``: timings, trace check and variances at dimension ``dim``."""
    hidden, batch = int(settings["hidden"]), int(settings["batch_size"])
    seed = int(settings["seed"]) * 1_000_003 + dim  # a distinct, reproducible stream per D
    func = RandomMLP(dim, hidden, seed=seed).to(device)
    func.requires_grad_(False)  # the cost studied is ∂f/∂z; parameter gradients are not needed
    generator = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(batch, dim, generator=generator).to(device)
    rademacher = torch.randint(0, 2, (batch, dim), generator=generator).mul(2).sub(1)

    timed = time_methods(
        func, z, rademacher.to(device=device, dtype=z.dtype), repeats=int(settings["repeats"]),
        device=device,
        vectorized=dim <= int(settings["vectorized_max_dim"]),
        exact_budget_seconds=float(settings["exact_budget_seconds"]))

    points = z[: int(settings["jacobian_samples"])]
    jacobian = jacobian_from_vjps(func, points).double()
    trace = torch.diagonal(jacobian, dim1=-2, dim2=-1).sum(-1)
    probe = points.detach().requires_grad_(True)
    with torch.enable_grad():
        exact = exact_trace(func(probe), probe).double()
    draws = int(settings["variance_draws"])
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed + 2)
        empirical = {kind: empirical_variance(func, points, kind=kind, draws=draws)
                     for kind in ("gaussian", "rademacher")}
    analytic = {kind: analytic_variance(jacobian, kind) for kind in ("gaussian", "rademacher")}
    bottleneck = bottleneck_matrix(func, points)
    bottleneck_trace = torch.diagonal(bottleneck, dim1=-2, dim2=-1).sum(-1)
    trace_ms = trace.square().mean()

    row = {"dim": dim, "hidden": hidden, "batch_size": batch,
           "f_seconds": timed["f_seconds"],
           "hutchinson_seconds": timed["hutchinson_seconds"],
           "exact_seconds": timed["exact_seconds"],
           "exact_vectorized_seconds": timed["exact_vectorized_seconds"],
           "exact_to_hutchinson": timed["exact_seconds"] / timed["hutchinson_seconds"],
           "trace_mean": float(trace.mean()),
           "trace_rms": float(trace_ms.sqrt()),
           "exact_trace_max_abs_error": float((exact - trace).abs().max())}
    for kind in ("gaussian", "rademacher"):
        row[f"var_{kind}_empirical"] = float(empirical[kind].mean())
        row[f"var_{kind}_analytic"] = float(analytic[kind].mean())
    for kind in ("gaussian", "rademacher"):
        row[f"rel_std_{kind}"] = float((analytic[kind].mean() / trace_ms).sqrt())
    for kind in ("gaussian", "rademacher"):
        row[f"var_{kind}_bottleneck_analytic"] = float(analytic_variance(bottleneck, kind).mean())
    row["bottleneck_trace_max_abs_error"] = float((bottleneck_trace - trace).abs().max())
    row.update({"jacobian_samples": len(points), "variance_draws": draws,
                "repeats": int(settings["repeats"]), "exact_repeats": timed["exact_repeats"],
                "exact_vectorized_repeats": timed["exact_vectorized_repeats"]})
    return row


def run(spec: dict, job) -> dict:
    """Measure every D of ``spec['dims']``, write the result files, return the metrics."""
    settings = _check_spec(spec)
    device = torch.device(settings["device"])
    out_dir = job.out_dir
    clock = time.perf_counter()

    rows = []
    for dim in settings["dims"]:
        row = measure_dim(dim, settings, device=device)
        rows.append(row)
        report(f"trace-cost D={dim}: f {row['f_seconds'] * 1e3:.3f} ms, "
               f"+Hutchinson {row['hutchinson_seconds'] * 1e3:.3f} ms, "
               f"+exact {row['exact_seconds'] * 1e3:.3f} ms "
               f"({row['exact_to_hutchinson']:.1f}× Hutchinson); "
               f"rel. std Gaussian {row['rel_std_gaussian']:.3g}, "
               f"Rademacher {row['rel_std_rademacher']:.3g}")
    write_csv(out_dir / "points.csv", rows)

    fits = fit_slopes(rows, min_dim=int(settings["fit_min_dim"]))
    metrics = {
        "dims": list(settings["dims"]),
        "hidden": int(settings["hidden"]),
        "batch_size": int(settings["batch_size"]),
        "fit_min_dim": int(settings["fit_min_dim"]),
        "slopes": {method: fit["slope"] for method, fit in fits.items()},
        "model_slopes": {method: fit["model_slope"] for method, fit in fits.items()},
        "fits": fits,
        "exact_to_hutchinson_at_max_dim": rows[-1]["exact_to_hutchinson"],
        "exact_trace_max_abs_error": max(row["exact_trace_max_abs_error"] for row in rows),
        "config_hash": config_hash(spec),
        "code_fingerprint": job.code_fingerprint,
        "device": str(device),
        "seed": int(settings["seed"]),
        "seconds": time.perf_counter() - clock,
    }
    return metrics


__all__ = ["RandomMLP", "analytic_variance", "empirical_variance", "fit_slopes",
           "jacobian_from_vjps", "measure_dim", "median_seconds", "model_flops",
           "run"]
