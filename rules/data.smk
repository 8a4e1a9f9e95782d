# Stage 1: datasets, copied from a mirror or downloaded, verified by their published checksums.
#
# The data files are never Snakemake outputs: Snakemake deletes a job's outputs before it reruns
# the job and after the job fails, so a forced rerun (-R fetch_mnist) or a failed fetch (a
# corrupt mirror) would delete good files. Each fetch job's output is instead a small manifest,
# written after every file of the dataset is in place and verified; jobs that read a dataset
# take its manifest as (ancient) input, and the loaders verify the files they read. The fetch
# itself stages each copy next to its target and moves it into place only once verified.
from replication.data.catalog import DATASET_NAMES

# '' = $REPLICATION_DATA_MIRROR, else download. Not a param: where the verified bytes come from does
# not change them, so no rerun (a changed param of a fetch job would also hold back, in a dry run,
# every job that reads the dataset). Quoted (:q) like every value that reaches a shell.
MIRROR = config.get("data_mirror") or ""


def dataset_manifest(name):
    return f"{DATA}/manifests/{name}.json"


def dataset_files(name):
    """Dataset `name` as a rule input: its manifest (ancient: re-verifying triggers no rerun)."""
    return ancient(dataset_manifest(name))


for _dataset in DATASET_NAMES:

    rule:
        name:
            f"fetch_{_dataset}"
        output:
            dataset_manifest(_dataset),
        params:
            dataset=_dataset,
        log:
            f"logs/data/fetch_{_dataset}.log",
        shell:
            "python -m replication fetch {params.dataset:q} --data-dir {DATA:q}"
            " --mirror={MIRROR:q} --manifest {output:q} > {log:q} 2>&1"
