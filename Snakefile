# Replication suite for Neural ODEs (Chen et al. 2018) and FFJORD (Grathwohl et al. 2019).
#   snakemake --cores all                          # the full replication (scale: paper, needs CUDA)
#   snakemake --cores all --config scale=cpu       # full data, reduced epochs, this kind of machine
#   snakemake --cores all --config scale=smoke     # minutes; what CI runs
# Every rule calls `python -m replication <command>`; the logic lives in the package.
from snakemake.utils import validate

from replication.config import classify_runs, validate_config

configfile: "config/config.yaml"
validate_config(config)  # fails first, with a message naming every offending key
validate(config, "config/schema.yaml")  # the same schema, through Snakemake's own validator

SCALE = config["scale"]
RESULTS = f"results/{SCALE}"
LOGS = f"logs/{SCALE}"
DATA = config["data_dir"]


include: "rules/data.smk"
include: "rules/classify.smk"
include: "rules/vae.smk"
include: "rules/ffjord.smk"
include: "rules/article.smk"
include: "rules/analysis.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/report.smk"


rule data:
    """`snakemake data`: fetch and verify every dataset this scale reads, and nothing else."""
    input:
        [str(path) for name in ["mnist", *sorted({NFE_VS_DIM["dataset"],
                                                 *(spec["dataset"] for spec in VAE_RUNS.values())})]
         for path in dataset_paths(name, DATA)],


rule all:
    input:
        rules.table1.output,
        rules.figure3.output,
        rules.memory_figure.output,
        rules.vae_table.output,
        rules.ffjord_figures.input,
        rules.report.output,
    default_target: True
