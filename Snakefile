# Replication suite for Neural ODEs (Chen et al. 2018) and FFJORD (Grathwohl et al. 2019).
#   snakemake --cores all                          # the full replication (scale: paper, needs CUDA)
#   snakemake --cores all --config scale=cpu       # full data, reduced epochs, this kind of machine
#   snakemake --cores all --config scale=smoke     # minutes; what CI runs
# Every rule calls `python -m replication <command>`; the logic lives in the package.
from snakemake.utils import validate

import os
import sys

from replication.config import (ConfigError, check_command_line_overrides, classify_runs,
                                validate_config)
from replication.gpu_guard import stop_if_gpu_jobs_without_cuda
from replication.workflow import ODE_MAX_STEPS_ENV

configfile: "config/config.yaml"
try:  # fails first, with a message naming every offending key (and no traceback)
    check_command_line_overrides(workflow.config_settings.config)
    validate_config(config)
except ConfigError as error:
    sys.exit(f"error: {error}")
validate(config, "config/schema.yaml")  # the same schema, through Snakemake's own validator

SCALE = config["scale"]
RESULTS = f"results/{SCALE}"
LOGS = f"logs/{SCALE}"
DATA = config["data_dir"]
CHECKPOINTS = f"{config['checkpoint_dir']}/{SCALE}"  # per-epoch checkpoints, outside the outputs
# Every job's adaptive ODE solves stop after this many steps (replication/ode/solve.py); not a
# param: a limit that only turns a hang into an error changes no result.
os.environ[ODE_MAX_STEPS_ENV] = str(config["ode_max_num_steps"])


include: "rules/data.smk"
include: "rules/classify.smk"
include: "rules/vae.smk"
include: "rules/ffjord.smk"
include: "rules/article.smk"
include: "rules/analysis.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/report.smk"


onstart:
    # Before the first job of a real run (never a dry run): jobs that need a GPU, on a machine
    # without one, stop the whole run here with one message (replication/gpu_guard.py).
    stop_if_gpu_jobs_without_cuda(workflow.dag.needrun_jobs(), scale=SCALE,
                                  local=workflow.local_exec)


DATA_NAMES = ["mnist", *sorted({NFE_VS_DIM["dataset"],
                                *(spec["dataset"] for spec in VAE_RUNS.values())})]


rule data:
    """`snakemake data`: fetch and verify every dataset this scale reads, and nothing else.

    No output, so it runs on every call: it re-verifies the files already present (a corrupted
    one is replaced by a verified copy, or reported) after the fetch jobs made the manifests.
    """
    input:
        [dataset_manifest(name) for name in DATA_NAMES],
    params:
        datasets=DATA_NAMES,
        data_dir=DATA,
        mirror=MIRROR,
    shell:
        "python -m replication fetch {params.datasets:q} --data-dir {params.data_dir:q}"
        " --mirror={params.mirror:q}"


rule all:
    input:
        rules.table1.output,
        rules.figure3.output,
        rules.memory_figure.output,
        rules.vae_table.output,
        rules.ffjord_figures.input,
        rules.report.output,
    default_target: True
