"""What the Snakemake rules need from the package: output paths and code fingerprints.

Pure Python (no torch), imported by the Snakefile at parse time.
"""
from __future__ import annotations

from replication.fingerprint import code_fingerprint
from replication.flows import FLOWS
from replication.models import MODELS

CLASSIFY_MODULE = "replication.experiments.classify"
TABLE1_MODULE = "replication.collect.table1"
TOLERANCE_MODULE = "replication.experiments.tolerance"
MEMORY_DEPTH_MODULE = "replication.experiments.memory_depth"
VAE_MODULE = "replication.experiments.vae"
VAE_TABLE_MODULE = "replication.collect.vae_table"
# The Snakefile hands config key ode_max_num_steps to every job in this variable; it is
# replication.ode.solve.MAX_STEPS_ENV (tested), spelled out here to keep torch out of parse time.
ODE_MAX_STEPS_ENV = "REPLICATION_ODE_MAX_STEPS"


def classify_run_dir(results_dir: str, spec: dict) -> str:
    return f"{results_dir}/{spec['scale']}/classify/{spec['model']}/seed{spec['seed']}"


def classify_fingerprint(model: str) -> str:
    """Code a classifier run depends on: the experiment and the one model it builds."""
    return code_fingerprint(CLASSIFY_MODULE, MODELS.module_of(model))


def vae_run_dir(results_dir: str, spec: dict) -> str:
    return (f"{results_dir}/{spec['scale']}/vae/{spec['dataset']}/{spec['flow']}"
            f"/seed{spec['seed']}")


def vae_fingerprint(flow: str, dataset: str) -> str:
    """Code a VAE run depends on: the experiment, the one flow it builds, its dataset's loader."""
    from replication.data.catalog import IMAGE_DATASETS

    return code_fingerprint(VAE_MODULE, FLOWS.module_of(flow), IMAGE_DATASETS.module_of(dataset))


def vae_table_fingerprint() -> str:
    return code_fingerprint(VAE_TABLE_MODULE)


def article_fingerprint() -> str:
    """Every article job imports the same runner (NumPy net and torch snippets)."""
    return code_fingerprint("replication.article.run")


def claims_fingerprint() -> str:
    return code_fingerprint("replication.claims.verdicts")


def report_fingerprint() -> str:
    return code_fingerprint("replication.report.build")


def table1_fingerprint() -> str:
    return code_fingerprint(TABLE1_MODULE)


def tolerance_fingerprint() -> str:
    """The sweep rebuilds the ODE-Net from its saved spec, so it depends on the model's code."""
    return code_fingerprint(TOLERANCE_MODULE, MODELS.module_of("odenet"))


def memory_depth_fingerprint() -> str:
    return code_fingerprint(MEMORY_DEPTH_MODULE)


def figure3_fingerprint() -> str:
    return code_fingerprint("replication.plots.figure3")


def memory_figure_fingerprint() -> str:
    return code_fingerprint("replication.plots.memory")


# FFJORD's smaller experiments (rules/ffjord.smk): each job's code, and each figure's.
def nfe_vs_dim_fingerprint() -> str:
    """FFJORD Figure 5 jobs: the runner, the FFJORD flow the VAE builds, the MNIST loader."""
    from replication.data.catalog import IMAGE_DATASETS

    return code_fingerprint("replication.cnf.nfe_vs_dim", FLOWS.module_of("ffjord"),
                            IMAGE_DATASETS.module_of("binarized_mnist"))


def toy_density_fingerprint() -> str:
    return code_fingerprint("replication.cnf.toy_density")


def trace_cost_fingerprint() -> str:
    return code_fingerprint("replication.cnf.trace_cost")


def ffjord_figure_fingerprint(name: str) -> str:
    """``name``: nfe_vs_dim, toy_density or trace_cost (the module under replication.plots)."""
    return code_fingerprint(f"replication.plots.{name}")
