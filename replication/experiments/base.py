"""What an experiment is, and the one job contract every experiment's jobs run under.

An experiment is a folder ``replication/experiments/<name>/``:

* ``__init__.py`` declares it: an :class:`Experiment` named ``EXPERIMENT`` (no torch, no pandas:
  the Snakefile and ``--help`` import declarations);
* ``run.py`` runs one job: ``run(spec, job) -> metrics``, building models from the science
  library (``replication.data``, ``models``, ``flows``, ``vae``, ``ode``, ``train``, ``measure``);
* ``table.py`` (``collect``) or ``plot.py`` (``figure``) turns its result files into the paper's
  table or figure, never retraining;
* ``caption.md``: what the reader sees beside the table or figure.

:func:`run_job` owns what every job must do the same way: the device check, threads, the seed,
resumable checkpoints tied to the spec and the code, provenance, and ``metrics.json`` written
last (its presence marks a complete job; a job that fails writes none).
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The job contract itself is code every job runs (its seeding decides numbers): it is part of
#: every job's fingerprint.
CONTRACT_MODULE = "replication.experiments.base"
CAPTION_FILE = "caption.md"
# The workflow hands config key ode_max_num_steps to every job in this variable; it is
# replication.ode.solve.MAX_STEPS_ENV (tested), spelled out here to keep torch out of parse time.
ODE_MAX_STEPS_ENV = "REPLICATION_ODE_MAX_STEPS"
# Where verified data files are and where checkpoints go: the workflow sets these for its jobs
# (they change no numbers, so they are no params); the command line takes them as defaults.
DATA_DIR_ENV = "REPLICATION_DATA_DIR"
CHECKPOINT_DIR_ENV = "REPLICATION_CHECKPOINT_DIR"
MIRROR_ENV = "REPLICATION_DATA_MIRROR"  # also read by replication.data.fetch


class DeviceUnavailableError(RuntimeError):
    """A job asks for CUDA on a machine without it."""


class NoSuchJobError(LookupError):
    """No job of the experiment matches the selectors given by hand."""


@dataclass(frozen=True, kw_only=True)
class Option:
    """A spec key that picks jobs by hand: ``python -m replication run EXP --<flag> VALUE``."""

    key: str
    help: str
    type: Callable[[str], Any] = str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """One experiment: its config section, its jobs, where they write, and its code.

    ``jobs(config)`` returns the resolved job specs of the config's scale (plain JSON data; the
    spec is the job's whole input besides data files and the upstream results it names).
    ``job_dir(spec)`` is the job's folder relative to ``results/<scale>``. ``code(spec)`` lists
    the package modules the job imports (followed transitively by
    :func:`replication.fingerprint.code_fingerprint`); ``options`` are the spec keys that pick
    jobs by hand on the command line.
    """

    name: str
    title: str
    section: str
    jobs: Callable[[dict], list[dict]]
    job_dir: Callable[[dict], str]
    code: Callable[[dict], Sequence[str]]
    options: tuple[Option, ...] = ()
    # Its table (``collect``: a module with ``collect(inputs, *, out, **spec)``) and its figure
    # (``figure``: a module with ``figure(inputs, *, out)``), from result files only: inputs are
    # paths relative to results/<scale>; ``tables`` are the files collect writes there and
    # ``figures`` those figure writes under figures/<scale>.
    collect: str | None = None
    collect_inputs: Callable[[dict], list[str]] | None = None  # default: every job's metrics
    collect_spec: Callable[[dict], dict] = lambda config: {}
    tables: tuple[str, ...] = ()
    figure: str | None = None
    figure_title: str | None = None  # the figure's, where it is not the experiment's title
    figure_inputs: Callable[[dict], list[str]] = lambda config: []
    figures: tuple[str, ...] = ()
    package: str = field(default="", repr=False)  # set from the declaring module

    @property
    def run_module(self) -> str:
        return f"{self.package}.run"

    def fingerprint(self, spec: dict) -> str:
        """What Snakemake compares to rerun a job: its code and the job contract's."""
        from replication.fingerprint import code_fingerprint

        return code_fingerprint(CONTRACT_MODULE, self.run_module, *self.code(spec))

    def fingerprint_of(self, module: str) -> str:
        """A table's or figure's fingerprint: its module's code (they read result files only)."""
        from replication.fingerprint import code_fingerprint

        return code_fingerprint(module)

    def table_inputs(self, config: dict) -> list[str]:
        if self.collect_inputs is not None:
            return self.collect_inputs(config)
        return [f"{self.job_dir(spec)}/metrics.json" for spec in self.jobs(config)]

    def caption(self) -> str:
        path = Path(importlib.import_module(self.package).__file__).with_name(CAPTION_FILE)
        return path.read_text().strip()

    def select(self, config: dict, **wanted) -> list[dict]:
        """The jobs whose spec matches every given ``key=value`` (``None`` values match all)."""
        wanted = {k: v for k, v in wanted.items() if v is not None}
        jobs = [spec for spec in self.jobs(config)
                if all(spec.get(k) == v for k, v in wanted.items())]
        if not jobs:
            known = sorted({json.dumps({k: s.get(k) for k in wanted}) for s in self.jobs(config)})
            raise NoSuchJobError(
                f"experiment {self.name} has no job with {wanted} at scale {config['scale']}; "
                f"its jobs have: {', '.join(known) or 'none'}")
        return jobs


SCHEDULING_KEYS = ("threads", "latent_dims", "datasets")  # how jobs are laid out, not what one does


def section_spec(config: dict, section: str, **fields) -> dict:
    """A job's spec from a config section that describes one job: the section without its
    scheduling keys, plus the scale and *fields*."""
    settings = config["scales"][config["scale"]][section]
    return {**{k: v for k, v in settings.items() if k not in SCHEDULING_KEYS},
            "scale": config["scale"], **fields}


def declare(module_name: str, **fields) -> Experiment:
    """``EXPERIMENT = declare(__name__, ...)`` in an experiment's ``__init__.py``."""
    return Experiment(package=module_name, **fields)


def require_device(device: str) -> None:
    """Stop with advice, not a traceback, when a CUDA job runs on a machine without CUDA."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"this job runs on device {device!r}, but this machine has no CUDA device. Choose a "
            "CPU scale (--config scale=cpu or scale=smoke) or a GPU machine.")


@dataclass(kw_only=True)
class Job:
    """What a running job gets besides its spec: where to read and write, and its checkpoint."""

    experiment: Experiment
    spec: dict
    out_dir: Path
    results_dir: Path  # results/<scale>: upstream results named in the spec live below it
    data_dir: Path | None
    checkpoint_dir: Path | None
    code_fingerprint: str
    _checkpoint: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.experiment.name}/{self.experiment.job_dir(self.spec)}"

    def upstream(self, key: str) -> Path:
        """The upstream result file the spec names under *key* (relative to results/<scale>)."""
        path = self.results_dir / self.spec[key]
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.name} reads {path} ({key}), which does not exist: run the job that makes "
                f"it first (snakemake does this for you: snakemake {path})")
        return path

    def checkpoint(self):
        """This job's resumable checkpoint, tied to its spec hash and code fingerprint.

        A checkpoint made by another spec or other code is never resumed (the job restarts and
        says why); :func:`run_job` deletes it once the job is complete.
        """
        from replication.measure.provenance import config_hash
        from replication.train.checkpoint import RunCheckpoint
        from replication.train.progress import report

        if self.checkpoint_dir is None:
            raise ValueError(f"{self.name} resumes from checkpoints: pass --checkpoint-dir")
        if self._checkpoint is None:
            self._checkpoint = RunCheckpoint(
                checkpoint_path(self.experiment, self.spec, self.checkpoint_dir),
                spec_hash=config_hash(self.spec), code_fingerprint=self.code_fingerprint,
                log=report)
        return self._checkpoint


def checkpoint_path(experiment: Experiment, spec: dict, checkpoint_dir: Path) -> Path:
    """``<checkpoint_dir>/<experiment>/<job folder>-<spec hash>/last.pt``: a changed spec never
    even finds the checkpoint of another (and a changed code fingerprint refuses it)."""
    from replication.measure.provenance import config_hash

    key = experiment.job_dir(spec).replace("/", "-")
    return Path(checkpoint_dir) / experiment.name / f"{key}-{config_hash(spec)}" / "last.pt"


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """NumPy's BLAS threads, when NumPy is not loaded yet (torch's are set by run_job)."""
    if "numpy" not in sys.modules:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)


def run_job(experiment: Experiment, spec: dict, *, out_dir: Path, results_dir: Path,
            data_dir: Path | None = None, checkpoint_dir: Path | None = None,
            threads: int = 1, code_fingerprint: str | None = None) -> dict:
    """Run one job of *experiment* under the job contract; return its metrics.

    1. the device check (a CUDA spec on a machine without CUDA stops before any work);
    2. the thread count (torch's, and NumPy's BLAS), and the seed (``spec["seed"]``: Python, NumPy and torch, with
       deterministic kernels) before the job builds anything;
       (*code_fingerprint* replaces the experiment's own for this spec: a test's stand-in for
       other code);
    3. ``run(spec, job)`` of the experiment's ``run.py`` writes its files into *out_dir* and
       returns the metrics, resuming from ``job.checkpoint()`` if it uses one;
    4. ``provenance.json`` (spec, code fingerprint, git state at start, packages, hardware),
       then ``metrics.json`` last; then the checkpoint is deleted.
    """
    limit_threads(threads)
    import torch

    from replication.measure.provenance import provenance, start_record
    from replication.results import write_json
    from replication.train.seeding import seed_everything

    started = start_record()
    device = spec.get("device", "cpu")
    require_device(device)
    torch.set_num_threads(threads)
    if "seed" in spec:
        seed_everything(spec["seed"])
    job = Job(experiment=experiment, spec=spec, out_dir=Path(out_dir),
              results_dir=Path(results_dir), data_dir=data_dir, checkpoint_dir=checkpoint_dir,
              code_fingerprint=code_fingerprint or experiment.fingerprint(spec))
    job.out_dir.mkdir(parents=True, exist_ok=True)
    metrics = importlib.import_module(experiment.run_module).run(spec, job)
    write_json(job.out_dir / "provenance.json", provenance(
        spec=spec, code_fingerprint=job.code_fingerprint, device=device, started=started))
    write_json(job.out_dir / "metrics.json", metrics)  # last: its presence marks a complete job
    if job._checkpoint is not None:
        job._checkpoint.discard()  # a forced rerun of a completed job starts from scratch
    return metrics
