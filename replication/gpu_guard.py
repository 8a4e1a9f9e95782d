"""Stop a workflow before its first job when it would need a GPU this machine does not have.

``snakemake --cores all`` is the full replication (``scale: paper``): on a laptop without CUDA it
would otherwise fetch the data sets, start its CPU-sized jobs and then fail GPU job after GPU job,
with the reason only in the job logs. The Snakefile's ``onstart`` handler calls
:func:`stop_if_gpu_jobs_without_cuda` with the jobs Snakemake is about to run (``onstart`` runs
only for a real run, after the DAG is built and before any job, dry runs excluded), so the user
gets one message that says how many jobs need a GPU and what to run instead.

Jobs submitted to a cluster (``--profile profiles/slurm``) run where the GPUs are: no check.
Pure standard library, like the rest of what the Snakefile imports (no torch at parse time).
"""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


class NoCudaForGpuJobs(RuntimeError):
    """Jobs that declare ``gpu`` resources were asked for on a machine without a CUDA GPU."""


def cuda_gpu_count() -> int:
    """GPUs the NVIDIA driver shows (``nvidia-smi -L``, else ``/proc/driver/nvidia/gpus``)."""
    if shutil.which("nvidia-smi"):
        try:
            done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            return sum(line.startswith("GPU ") for line in done.stdout.splitlines())
    if NVIDIA_PROC.is_dir():
        return sum(1 for _ in NVIDIA_PROC.iterdir())
    return 0


def gpu_jobs(jobs: Iterable) -> Counter:
    """Rule name -> number of the given Snakemake jobs that declare ``gpu`` > 0."""
    return Counter(job.rule.name for job in jobs if (job.resources.get("gpu", 0) or 0) > 0)


def message(counts: Counter, *, total: int, scale: str) -> str:
    needing = sum(counts.values())
    rules = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()))
    return (
        f"{needing} of the {total} jobs to run need a CUDA GPU ({rules}) and this machine has "
        f"none (scale: {scale}); nothing was started. Instead: run the cpu scale here "
        f"(`snakemake --cores all --config scale=cpu`, or `make`), or submit the jobs to a "
        f"cluster with GPUs (`snakemake --profile profiles/slurm`). The CPU-sized jobs of this "
        f"scale run here when named as targets; `python -m replication plan --scale {scale}` "
        f"shows each run's device.")


def stop_if_gpu_jobs_without_cuda(jobs: Iterable, *, scale: str, local: bool,
                                  gpus: int | None = None) -> None:
    """Raise :class:`NoCudaForGpuJobs` if local jobs need a GPU and none is present."""
    jobs = list(jobs)
    counts = gpu_jobs(jobs)
    if not local or not counts:
        return
    if (cuda_gpu_count() if gpus is None else gpus) > 0:
        return
    raise NoCudaForGpuJobs(message(counts, total=len(jobs), scale=scale))
