# Included first: the scale, the paths and the lookups every rules file uses. These are the only
# globals shared between rules files; each experiment's file defines its own (prefixed by its
# name) and reads no other file's.
import json
import os

from replication.data.catalog import DATASET_NAMES
from replication.experiments.registry import experiment, experiments
from replication.fingerprint import code_fingerprint
from replication.experiments.base import (
    CHECKPOINT_DIR_ENV,
    DATA_DIR_ENV,
    MIRROR_ENV,
    ODE_MAX_STEPS_ENV,
)

# The software of every job, for `--software-deployment-method conda`: the pinned environment.
CONDA_ENV = "../envs/environment.yaml"

SCALE = config["scale"]
RESULTS = f"results/{SCALE}"
FIGURES = f"figures/{SCALE}"
LOGS = f"logs/{SCALE}"
DATA = config["data_dir"]
CHECKPOINTS = f"{config['checkpoint_dir']}/{SCALE}"  # per-epoch checkpoints, outside the outputs
MIRROR = config.get("data_mirror") or ""  # '': $REPLICATION_DATA_MIRROR, else download
# What changes no job's numbers reaches the jobs by environment, never as a param (a changed
# param reruns a job) nor in a shell command: where the verified data files are, where
# checkpoints go, the mirror the bytes come from, and the step limit of every adaptive ODE
# solve (replication/ode/solve.py: it only turns a hang into an error). The command line reads
# them as its defaults (replication/cli.py).
os.environ[DATA_DIR_ENV] = DATA
os.environ[CHECKPOINT_DIR_ENV] = CHECKPOINTS
if MIRROR:
    os.environ[MIRROR_ENV] = MIRROR
os.environ[ODE_MAX_STEPS_ENV] = str(config["ode_max_num_steps"])


def settings(section):
    """The scale's config section *section*."""
    return config["scales"][SCALE][section]


def mem_mb(rule_name):
    """Memory (MB) a job of *rule_name* reserves at this scale (config key job_memory_mb)."""
    memory = config["job_memory_mb"][SCALE]
    return memory.get(rule_name, memory["default"])


def gpus(device):
    """GPUs a job on *device* holds (a resource: `--resources gpu=N` caps them)."""
    return 1 if str(device).startswith("cuda") else 0


def dataset_manifest(name):
    return f"{DATA}/manifests/{name}.json"


def dataset_files(name):
    """Dataset `name` as an input, by its manifest (ancient, so re-verifying reruns nothing)."""
    return ancient(dataset_manifest(name))


def jobs_by_path(declared):
    """{results/<scale>/<job folder>: spec} of every job of an experiment at this scale."""
    return {f"{RESULTS}/{declared.job_dir(spec)}": spec for spec in declared.jobs(config)}


def job_params(declared, folder):
    """The params of every job (its spec as JSON, its code fingerprint, its folder).

    *folder* is the job folder's pattern, as given to job_outputs. Snakemake reruns a job when a
    param changes, but only a param computed from the wildcards alone: the spec (everything that
    determines the job's numbers) and the fingerprint of the code it imports
    (replication/fingerprint.py) are looked up by the folder the wildcards name, never from the
    output paths (a param derived from them triggers no rerun).
    """
    by_path = jobs_by_path(declared)

    def spec(wildcards):
        return by_path[f"{RESULTS}/{folder.format(**dict(wildcards.items()))}"]

    return {
        "experiment": declared.name,
        "spec": lambda w: json.dumps(spec(w), sort_keys=True),
        "code": lambda w: declared.fingerprint(spec(w)),
        "out": lambda w, output: os.path.dirname(output.metrics),
    }


def job_outputs(declared, folder, *files):
    """A job's outputs (*files* in its folder, then provenance and metrics, written last)."""
    out = f"{RESULTS}/{folder}"
    return {
        **{os.path.splitext(name)[0]: f"{out}/{name}" for name in files},
        "provenance": f"{out}/provenance.json",
        "metrics": f"{out}/metrics.json",
    }


def table_inputs(declared):
    return [f"{RESULTS}/{path}" for path in declared.table_inputs(config)]


def table_outputs(declared):
    return [f"{RESULTS}/{name}" for name in declared.tables]


def figure_inputs(declared):
    return [f"{RESULTS}/{path}" for path in declared.figure_inputs(config)]


def figure_outputs(declared):
    return [f"{FIGURES}/{name}" for name in declared.figures]


def products():
    """Every table, figure and job result of the scale: what claims and the report read."""
    paths = []
    for declared in experiments():
        paths += table_outputs(declared) + figure_outputs(declared)
        if not declared.tables and not declared.figures:  # the article: its jobs' results
            paths += [f"{path}/metrics.json" for path in jobs_by_path(declared)]
    return paths
