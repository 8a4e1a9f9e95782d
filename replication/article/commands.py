"""Command-line entry points of the article jobs: ``python -m replication article-a1 …``.

``add_commands(subparsers)`` registers ``article-a1`` … ``article-a4`` on the suite's parser.
Each takes ``--spec`` (JSON), ``--data-dir``, ``--out`` (the job's output folder) and
``--threads``; ``article-a2`` also ``--params`` (A1's ``params.npz``). Heavy imports happen
only when a command runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path

HELP = {
    "a1": "A1: train the article's NumPy Euler/adjoint MNIST network (one seed)",
    "a2": "A2: evaluate A1's trained network at other Euler settings (n, dt)",
    "a3": "A3: train the article's 'CNF' classifier snippet (one seed)",
    "a4": "A4: train the article's 'FFJORD' classifier snippet (one seed)",
}
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _limit_threads(threads: int) -> None:
    """torch's intra-op threads, and NumPy's BLAS threads when NumPy is not yet loaded."""
    if "numpy" not in sys.modules:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _run(experiment: str, args: argparse.Namespace) -> None:
    _limit_threads(args.threads)
    from replication.article import run

    spec = json.loads(args.spec)
    if str(spec.get("device", "cpu")).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(
                f"error: this job runs on device {spec['device']!r}, but this machine has no CUDA "
                "device. Choose a CPU scale (--config scale=cpu or scale=smoke) or a GPU machine.")
    if experiment == "a2":
        metrics = run.run_a2(spec, params_path=args.params, data_dir=args.data_dir,
                             out_dir=args.out)
        summary = {"accuracy_min": metrics["accuracy_min"], "accuracy_max": metrics["accuracy_max"]}
    else:
        metrics = run.JOBS[experiment](spec, data_dir=args.data_dir, out_dir=args.out)
        summary = {k: metrics[k] for k in ("test_accuracy", "parameters") if k in metrics}
    print(json.dumps({"experiment": experiment, "seed": metrics["seed"], **summary}))


def add_commands(subparsers) -> None:
    """Register the article commands on *subparsers* (from ``parser.add_subparsers``)."""
    for experiment, help_text in HELP.items():
        command = subparsers.add_parser(f"article-{experiment}", help=help_text)
        command.add_argument("--spec", required=True,
                             help="the job's specification (JSON): experiment, seed, settings")
        command.add_argument("--data-dir", type=Path, required=True)
        command.add_argument("--out", type=Path, required=True, help="output folder of the job")
        command.add_argument("--threads", type=int, default=1)
        if experiment == "a2":
            command.add_argument("--params", type=Path, required=True,
                                 help="params.npz written by the A1 job of the same seed")
        command.set_defaults(handler=partial(_run, experiment))


def fingerprint() -> str:
    """The code fingerprint the workflow should track for every article job (pure stdlib)."""
    from replication.fingerprint import code_fingerprint

    return code_fingerprint("replication.article.run")


_NOT_IN_SPEC = ("seeds", "threads", "readouts")


def _settings(section: dict) -> dict:
    return {k: v for k, v in section.items() if k not in _NOT_IN_SPEC}


def article_jobs(section: dict, *, scale: str) -> list[dict]:
    """One job specification per run from a scale's ``article`` config section (pure Python).

    A1 and A3: one per seed. A2: one per A1 seed (it evaluates that seed's ``params.npz``).
    A4: one per (readout, seed); an entry of ``readouts`` may override any A4 key, ``seeds``
    included. ``threads`` is a command-line setting, not part of a specification.
    """
    jobs = []
    a1 = section["a1"]
    for seed in a1["seeds"]:
        jobs.append({"experiment": "a1", "scale": scale, "seed": seed, **_settings(a1)})
    for seed in a1["seeds"]:
        jobs.append({"experiment": "a2", "scale": scale, "seed": seed, **_settings(section["a2"])})
    a3 = section["a3"]
    for seed in a3["seeds"]:
        jobs.append({"experiment": "a3", "scale": scale, "seed": seed, **_settings(a3)})
    a4 = section["a4"]
    for readout, overrides in a4["readouts"].items():
        overrides = overrides or {}
        for seed in overrides.get("seeds", a4["seeds"]):
            jobs.append({"experiment": "a4", "scale": scale, "seed": seed, **_settings(a4),
                         **_settings(overrides), "readout": readout})
    return jobs


def job_dir(results_dir: str, spec: dict) -> str:
    """Where a job writes: ``<results>/<scale>/article/<experiment>[/<readout>]/seed<seed>``."""
    variant = f"/{spec['readout']}" if spec["experiment"] == "a4" else ""
    return f"{results_dir}/{spec['scale']}/article/{spec['experiment']}{variant}/seed{spec['seed']}"
