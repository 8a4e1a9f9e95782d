# Replication suite for Neural ODEs (Chen et al. 2018) and FFJORD (Grathwohl et al. 2019).
#   snakemake --cores all                          # the full replication (scale: paper, needs CUDA)
#   snakemake --cores all --config scale=cpu       # full data, reduced epochs, this kind of machine
#   snakemake --cores all --config scale=smoke     # minutes; what CI runs
# Every rule calls `python -m replication <verb>`; the logic lives in the package, one folder
# per experiment (replication/experiments/), one rules file per experiment (rules/).
import sys

from snakemake.utils import min_version, validate

from replication.config import (
    ConfigError,
    check_command_line_overrides,
    materialize_scales,
    validate_config,
)
from replication.experiments.registry import NAMES as EXPERIMENT_NAMES
from replication.gpu_guard import stop_if_gpu_jobs_without_cuda

min_version("9.0")


configfile: "config/config.yaml"


try:  # fails first, with a message naming every offending key (and no traceback)
    check_command_line_overrides(workflow.config_settings.config)
    config.update(materialize_scales(config))  # cpu, smoke: deltas onto paper, merged in full
    validate_config(config)
except ConfigError as error:
    sys.exit(f"error: {error}")
validate(config, "config/schema.yaml")  # the same schema, through Snakemake's own validator


include: "rules/common.smk"
include: "rules/data.smk"


# One rules file per experiment, in the registry's order (replication/experiments/registry.py)
for _name in EXPERIMENT_NAMES:

    include: f"rules/{_name}.smk"


include: "rules/report.smk"


onstart:
    # Before the first job of a real run (never a dry run): jobs that need a GPU, on a machine
    # without one, stop the whole run here with one message (replication/gpu_guard.py).
    stop_if_gpu_jobs_without_cuda(
        workflow.dag.needrun_jobs(), scale=SCALE, local=workflow.local_exec
    )


rule ffjord_figures:
    """`snakemake ffjord_figures`: FFJORD Figures 2 and 5 and the trace-cost figure."""
    input:
        [figure_outputs(experiment(name)) for name in ("nfe_vs_dim", "toy_density", "trace_cost")],


# The full replication of the scale: every experiment's products, the claims, the report.
rule all:
    default_target: True
    input:
        products(),
        f"{RESULTS}/claims.csv",
        f"{RESULTS}/REPORT.md",
