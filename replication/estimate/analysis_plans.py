"""The jobs that measure rather than train: Figure 3's tolerance sweep, memory vs depth, and
the exact-vs-Hutchinson trace cost. Their "step" is named in each row's note.
"""
from __future__ import annotations

import csv
import math
import time

from replication.estimate.plans import CPU_RESULTS, PlannedJob, Probe, Timing, _relative
from replication.experiments.registry import experiment

# memory_depth: deeper points are extrapolated from the measured ones
MEASURED_MAX_DEPTH = 8


# ---- Figure 3a/b: the tolerance sweep --------------------------------------------------------

def _tolerance_probe(spec: dict, images: int, device) -> Probe:
    import torch

    from replication.models import build_model, count_parameters

    torch.manual_seed(spec["seed"])
    model = build_model(spec["model"], **spec["architecture"]).double().to(device).eval()
    x = torch.rand(images, 1, 28, 28, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        h0 = model[0](x)
    func, t = model[1].func, torch.zeros((), dtype=torch.float64, device=device)

    def step() -> tuple[int, int]:
        with torch.no_grad():
            func(t, h0)
        return 1, 0

    return Probe(parameters=count_parameters(model), step=step)


def plan_figure3(config: dict) -> list[PlannedJob]:
    section = config["scales"][config["scale"]]["figure3"]
    spec = next(s for s in experiment("table1").jobs(config)
                if s["model"] == "odenet" and s["seed"] == section["seed"])
    sweep = CPU_RESULTS / "figure3" / "tolerance_sweep.csv"
    if sweep.is_file():
        with sweep.open(newline="") as handle:
            rows = {float(row["tolerance"]): row for row in csv.DictReader(handle)}
    else:
        rows = {}
    missing = [tol for tol in section["tolerances"] if float(tol) not in rows]
    if missing:
        raise ValueError(f"{_relative(sweep)} lacks the NFE of tolerance(s) {missing}: the "
                         "estimate of the sweep needs the cpu sweep's NFE per tolerance "
                         "(run the cpu scale's tolerance_sweep first)")
    reference = int(next(iter(rows.values()))["reference_nfe"])
    evaluations = reference + sum(section["repeats"] * int(rows[float(tol)]["nfe_forward"])
                                  for tol in section["tolerances"])
    return [PlannedJob(
        experiment="figure3", job="tolerance sweep", shape="odenet dynamics float64",
        steps=evaluations, batch_size=section["images"],
        note=(f"one step = one evaluation of the ODE-Net's dynamics on {section['images']} "
              f"images in float64; steps = {section['repeats']} repeats × NFE-F at each of "
              f"{len(section['tolerances'])} tolerances + the reference solve ({reference} "
              f"NFE), the NFE from {_relative(sweep)} (cpu-trained ODE-Net)"),
        build=lambda device: _tolerance_probe(spec, section["images"], device))]


# ---- memory vs depth -------------------------------------------------------------------------

def _depth_probe(section: dict, variant: str, depth: int, device) -> Probe:
    import torch
    from torch.nn import functional as F

    from replication.estimate.plans import _classifier_batch
    from replication.experiments.memory_depth import build_variant
    from replication.models import count_parameters
    from replication.ode import NFECounter

    torch.manual_seed(section["seed"])
    model = build_variant(variant, depth, width=section["width"],
                          downsampling_kind=section["downsampling"],
                          solver=section["solver"]).to(device)
    images, labels = _classifier_batch(section["batch_size"], device)
    counter = NFECounter(model)

    def step() -> tuple[int, int]:   # measure_point's step: forward and backward, no update
        model.zero_grad(set_to_none=True)
        counter.start()
        loss = F.cross_entropy(model(images), labels)
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        return counter.forward, counter.backward

    return Probe(parameters=count_parameters(model), step=step)


def fit_line(depths, values, depth: float) -> float | None:
    """The least-squares line through (depth, value) at *depth*; its slope clipped at zero
    (on a loaded machine a few timings can fall with depth), and never below zero."""
    if any(value is None for value in values):
        return None
    mean_d, mean_v = sum(depths) / len(depths), sum(values) / len(values)
    spread = sum((d - mean_d) ** 2 for d in depths)
    slope = max(0.0, sum((d - mean_d) * (v - mean_v) for d, v in zip(depths, values)) / spread)
    return max(0.0, mean_v + slope * (depth - mean_d))


def _extrapolate(section: dict, variant: str, depth: int, measured: list[int]):
    def measure(device, timing_of) -> Timing:
        from replication.experiments.memory_depth import build_variant
        from replication.models import count_parameters

        points = [timing_of(f"{variant} depth {d}") for d in measured]

        def line(name: str):
            return fit_line(measured, [getattr(p, name) for p in points], depth)

        memory, saved = line("peak_memory_bytes"), line("saved_tensor_bytes")
        model = build_variant(variant, depth, width=section["width"],
                              downsampling_kind=section["downsampling"], solver=section["solver"])
        return Timing(parameters=count_parameters(model),
                      seconds_per_step=line("seconds_per_step"), timed_steps=0,
                      nfe_forward=line("nfe_forward"), nfe_backward=line("nfe_backward"),
                      peak_memory_bytes=None if memory is None else int(memory),
                      saved_tensor_bytes=None if saved is None else int(saved),
                      note=f"extrapolated: least-squares line in depth through depths "
                           f"{', '.join(map(str, measured))}")
    return measure


def plan_memory_depth(config: dict) -> list[PlannedJob]:
    from replication.experiments.memory_depth import VARIANTS

    section = config["scales"][config["scale"]]["memory_depth"]
    depths = sorted(section["depths"])
    measured = [d for d in depths if d <= MEASURED_MAX_DEPTH]
    jobs = []
    for variant in VARIANTS:
        for depth in depths:
            note = (f"one job, one row per point; steps = 1 warm-up + 1 memory + "
                    f"{section['repeats']} timed steps (forward + backward, no update)")
            extrapolated = depth > MEASURED_MAX_DEPTH and len(measured) >= 2
            jobs.append(PlannedJob(
                experiment="memory_depth", job=f"{variant} depth {depth}",
                shape=f"{variant} depth {depth}", steps=section["repeats"] + 2,
                batch_size=section["batch_size"], note=note,
                build=None if extrapolated else (
                    lambda device, variant=variant, depth=depth:
                        _depth_probe(section, variant, depth, device)),
                measure=_extrapolate(section, variant, depth, measured) if extrapolated
                else None))
    return jobs


# ---- exact trace vs Hutchinson ---------------------------------------------------------------

def _trace_cost_measure(section: dict, dim: int):
    """Time one call of each method at *dim*; the job's cost from its repeats and budgets."""
    def measure(device, timing_of) -> Timing:
        import torch

        from replication.experiments.trace_cost.run import (
            RandomMLP,
            empirical_variance,
            jacobian_from_vjps,
            time_methods,
        )
        from replication.measure.memory import peak_memory
        from replication.ode.trace import exact_trace

        hidden, batch = int(section["hidden"]), int(section["batch_size"])
        func = RandomMLP(dim, hidden, seed=dim).to(device)
        func.requires_grad_(False)
        generator = torch.Generator().manual_seed(dim)
        z = torch.randn(batch, dim, generator=generator).to(device)
        noise = torch.randint(0, 2, (batch, dim), generator=generator).mul(2).sub(1).to(z)
        vectorized = dim <= int(section["vectorized_max_dim"])
        one = time_methods(func, z, noise, repeats=1, device=device, vectorized=vectorized,
                           exact_budget_seconds=math.inf)
        repeats, budget = int(section["repeats"]), float(section["exact_budget_seconds"])

        def budgeted(seconds: float) -> float:   # median_seconds: a warm-up, then ≤ budget
            return (1 + max(1, min(repeats, int(budget / max(seconds, 1e-9))))) * seconds

        seconds = (repeats + 1) * (one["f_seconds"] + one["hutchinson_seconds"])
        seconds += budgeted(one["exact_seconds"])
        if vectorized:
            seconds += budgeted(one["exact_vectorized_seconds"])
        points = z[: int(section["jacobian_samples"])]
        start = time.perf_counter()
        jacobian_from_vjps(func, points)
        probe = points.detach().requires_grad_(True)
        with torch.enable_grad():
            exact_trace(func(probe), probe)
        seconds += time.perf_counter() - start
        draws = int(section["variance_draws"])
        per_chunk = max(2, min(draws, 2**22 // (len(points) * dim)))
        start = time.perf_counter()
        empirical_variance(func, points, kind="gaussian", draws=per_chunk)
        seconds += 2 * (time.perf_counter() - start) * draws / per_chunk  # two noise kinds

        def biggest() -> None:
            with torch.enable_grad():
                zz = z.detach().requires_grad_(True)
                exact_trace(func(zz), zz, vectorize=vectorized)

        memory = peak_memory(biggest, device=device)
        return Timing(parameters=sum(p.numel() for p in func.parameters()),
                      seconds_per_step=seconds, timed_steps=1,
                      peak_memory_bytes=memory.bytes, saved_tensor_bytes=memory.saved_bytes)
    return measure


def plan_trace_cost(config: dict) -> list[PlannedJob]:
    section = config["scales"][config["scale"]]["trace_cost"]
    return [PlannedJob(
        experiment="trace_cost", job=f"D={dim}", shape=f"D={dim}", steps=1,
        batch_size=section["batch_size"],
        note=("one job, one row per D; one step = all of D's work: each method timed once after "
              f"a warm-up and multiplied by its repeats ({section['repeats']}, exact methods "
              f"capped by the {section['exact_budget_seconds']} s budget), the Jacobian, and "
              f"the variance ({section['variance_draws']} draws × 2 noise kinds) scaled from "
              "one chunk of draws; peak memory of one exact-trace call"),
        measure=_trace_cost_measure(section, dim))
        for dim in section["dims"]]
