"""Running one experiment job in-process under the job contract, as ``python -m replication run``
would (the tests' one way to run a job)."""
from __future__ import annotations

from pathlib import Path


def run_experiment(name: str, spec: dict, out_dir: Path, *, data_dir: Path | None = None,
                   checkpoint_dir: Path | None = None, results_dir: Path | None = None,
                   code_fingerprint: str | None = "test") -> dict:
    """Run *spec* of experiment *name* into *out_dir*; its metrics (``metrics.json`` too).

    ``code_fingerprint="test"`` stands in for the fingerprint the workflow passes; ``None``
    computes the experiment's own.
    """
    from replication.experiments.base import run_job
    from replication.experiments.registry import experiment

    out_dir = Path(out_dir)
    return run_job(experiment(name), spec, out_dir=out_dir,
                   results_dir=results_dir or out_dir.parent, data_dir=data_dir,
                   checkpoint_dir=checkpoint_dir or out_dir.parent / "checkpoints",
                   code_fingerprint=code_fingerprint)
