"""Build, check and time every job of a scale on the device at hand; write the table.

For each distinct shape: one warm-up step, one step under
:func:`~replication.measure.memory.peak_memory` (allocator peak and autograd's saved bytes),
then ``steps`` timed steps (median). Shapes marked ``slow`` (FFJORD's paper-size flows) time
one step, the first, and measure memory on the second.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from replication.estimate import table
from replication.estimate.plans import PlannedJob, Timing
from replication.registry import Registry

PLANNERS = Registry("experiment", {
    "table1": "replication.estimate.plans:plan_classify",
    "figure3": "replication.estimate.analysis_plans:plan_figure3",
    "memory_depth": "replication.estimate.analysis_plans:plan_memory_depth",
    "vae_table": "replication.estimate.plans:plan_vae",
    "nfe_vs_dim": "replication.estimate.plans:plan_nfe_vs_dim",
    "toy_density": "replication.estimate.plans:plan_toy_density",
    "trace_cost": "replication.estimate.analysis_plans:plan_trace_cost",
    "article": "replication.estimate.plans:plan_article",
})


def plan(config: dict, *, only: Sequence[str] | None = None) -> list[PlannedJob]:
    """The planned jobs of the experiments *only* (default: all), in workflow order."""
    names = list(only) if only else list(PLANNERS)
    unknown = [name for name in names if name not in PLANNERS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(PLANNERS)}")
    return [job for name in names for job in PLANNERS[name](config)]


def _synchronize(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def time_probe(job: PlannedJob, *, device, steps: int) -> Timing:
    from replication.measure.memory import peak_memory

    probe = job.build(device)

    def timed() -> tuple[float, tuple[int, int]]:
        _synchronize(device)
        start = time.perf_counter()
        nfe = probe.step()
        _synchronize(device)
        return (time.perf_counter() - start) * probe.seconds_factor, nfe

    runs = []
    if job.slow:
        runs.append(timed())
    else:
        probe.step()   # warm-up: lazy initialisation and optimizer state are not timed
    memory = peak_memory(probe.step, device=device) if probe.torch_memory else None
    if not job.slow:
        runs += [timed() for _ in range(steps)]
    return Timing(
        parameters=probe.parameters,
        seconds_per_step=statistics.median(seconds for seconds, _ in runs),
        timed_steps=len(runs),
        nfe_forward=statistics.fmean(nfe[0] for _, nfe in runs),
        nfe_backward=statistics.fmean(nfe[1] for _, nfe in runs),
        peak_memory_bytes=None if memory is None else memory.bytes,
        saved_tensor_bytes=None if memory is None else memory.saved_bytes)


def estimate(jobs: Sequence[PlannedJob], *, device, steps: int,
             progress: Callable[[str], None] = lambda line: None) -> list[dict]:
    """One table row per job; each distinct (experiment, shape) is measured once."""
    timings: dict[tuple[str, str], Timing] = {}
    rows = []
    for job in jobs:
        key = (job.experiment, job.shape)
        if key not in timings:
            start = time.perf_counter()
            if job.measure is not None:
                timings[key] = job.measure(
                    device, lambda shape, experiment=job.experiment: timings[(experiment, shape)])
            else:
                timings[key] = time_probe(job, device=device, steps=steps)
            progress(f"{job.experiment} {job.shape}: {timings[key].seconds_per_step:.3g} s/step, "
                     f"NFE {timings[key].nfe_forward:.0f}/{timings[key].nfe_backward:.0f} "
                     f"({time.perf_counter() - start:.0f} s)")
        rows.append(row_for(job, timings[key], device=str(device)))
    return rows


def row_for(job: PlannedJob, timing: Timing, *, device: str) -> dict:
    parameters = timing.parameters
    checks = job.checks
    ok = None if not checks or parameters is None else all(c.holds(parameters) for c in checks)
    note = "; ".join(part for part in (timing.note, job.note) if part)
    if ok is False:
        note = (f"parameter count {parameters:,} differs from "
                + ", ".join(c.label() for c in checks if not c.holds(parameters)) + "; " + note)
    return table.make_row(
        experiment=job.experiment, job=job.job, shape=job.shape, device=device,
        parameters=parameters, paper_parameters="; ".join(c.label() for c in checks),
        parameters_ok=ok, batch_size=job.batch_size, steps=job.steps,
        timed_steps=timing.timed_steps, seconds_per_step=timing.seconds_per_step,
        nfe_init=(timing.nfe_forward, timing.nfe_backward),
        nfe_trained=job.nfe_trained if timing.nfe_forward + timing.nfe_backward > 0 else None,
        peak_memory_bytes=timing.peak_memory_bytes, saved_tensor_bytes=timing.saved_tensor_bytes,
        note=note)


def device_description(device) -> dict:
    import torch

    from replication.measure.provenance import cpu_isa, cpu_model

    info = {"device": str(device), "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), **cpu_isa(), "torch": torch.__version__}
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    else:
        info["device_name"] = info["cpu_model"]
    return info


def run(args) -> None:
    """The ``estimate`` command."""
    import torch

    from replication.config import load_config
    from replication.measure.provenance import start_record, utc_now
    from replication.results import write_json, write_text
    from replication.train.progress import report

    torch.set_num_threads(args.threads)
    config = load_config(args.config, overrides={"scale": args.scale})
    jobs = plan(config, only=args.only)   # an unknown name fails before anything is timed
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    started, load_before = start_record(), os.getloadavg()
    clock = time.perf_counter()
    rows = estimate(jobs, device=device, steps=args.steps, progress=report)
    described = device_description(device)
    name = described["device_name"]
    provenance = {**started, "finished": utc_now(), "scale": args.scale, "only": args.only,
                  "timed_steps": args.steps, "seconds": time.perf_counter() - clock,
                  "load_average_before": load_before, "load_average_after": os.getloadavg(),
                  "jobs": len(rows), **described,
                  "thread_variables": {name: os.environ.get(name) for name in (
                      "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    preamble = [
        f"Scale `{args.scale}`; measured on `{name}` ({device}), {described['torch_threads']} "
        f"torch thread(s), CPU capability {described['cpu_capability']}; "
        f"load average {load_before[0]:.1f} at the start (a shared machine); commit "
        f"{started['git_sha'][:12]}{' (dirty)' if started['git_dirty'] else ''}.",
        "The configuration names the device each job is meant for (the paper scale: a CUDA "
        "GPU for most); every job here was built and timed on the device above. "
        "Training steps only (the protocol's step counts × measured seconds per step): "
        "validation, test and IS-NLL passes, data loading and checkpointing are not included. "
        "`hours (trained NFE)` scales adaptive-solver steps by (NFE-F + NFE-B) trained / at "
        "initialisation; rows without a trained NFE count at their measured NFE."]
    out = Path(args.out)
    write_text(out / "estimate.csv", table.to_csv(rows))
    write_text(out / "totals.csv", table.to_csv(table.totals(rows), table.TOTAL_COLUMNS))
    write_text(out / "estimate.md", table.to_markdown(
        rows, scale=args.scale, device=f"{name} ({device})", preamble=preamble))
    write_json(out / "provenance.json", provenance)
    for line in table.totals_markdown(table.totals(rows)):
        print(line)


def _positive(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_commands(subparsers) -> None:
    """Register ``estimate`` on the suite's parser."""
    command = subparsers.add_parser(
        "estimate", help="build, check and time every job of a scale; write the cost table")
    command.add_argument("--scale", choices=["smoke", "cpu", "paper"], default="paper")
    command.add_argument("--out", type=Path, required=True,
                         help="folder: estimate.csv, totals.csv, estimate.md, provenance.json")
    command.add_argument("--steps", type=_positive, default=3,
                         help="timed steps per distinct shape, after one warm-up (default 3)")
    command.add_argument("--only", nargs="+", metavar="EXPERIMENT", choices=list(PLANNERS),
                         help=f"only these experiments ({', '.join(PLANNERS)})")
    command.add_argument("--threads", type=_positive, default=1)
    command.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    command.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    command.set_defaults(handler=run)
