# Datasets, copied from a mirror or downloaded, verified by their published checksums.
#
# The data files are never Snakemake outputs: Snakemake deletes a job's outputs before it reruns
# the job and after the job fails, so a forced rerun (-R fetch_mnist) or a failed fetch (a
# corrupt mirror) would delete good files. Each fetch job's output is instead a small manifest,
# written after every file of the dataset is in place and verified; jobs that read a dataset
# take its manifest as (ancient) input, and the loaders verify the files they read. The fetch
# itself stages each copy next to its target and moves it into place only once verified.
DATA_NAMES = sorted(
    {
        "mnist",
        settings("nfe_vs_dim")["dataset"],
        *(spec["dataset"] for spec in experiment("vae_table").jobs(config)),
    },
    key=lambda name: (name != "mnist", name),
)


for _dataset in DATASET_NAMES:

    rule:
        name:
            f"fetch_{_dataset}"
        output:
            dataset_manifest(_dataset),
        log:
            f"logs/data/fetch_{_dataset}.log",
        conda:
            CONDA_ENV
        resources:
            mem_mb=mem_mb(f"fetch_{_dataset}"),
        params:
            dataset=_dataset,
        shell:
            "python -m replication fetch {params.dataset:q} --manifest {output:q} > {log:q} 2>&1"


rule data:
    """`snakemake data`: fetch and verify every dataset this scale reads, and nothing else.

    No output, so it runs on every call: it re-verifies the files already present (a corrupted
    one is replaced by a verified copy, or reported) after the fetch jobs made the manifests.
    """
    input:
        [dataset_manifest(name) for name in DATA_NAMES],
    log:
        "logs/data/verify.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("data"),
    params:
        datasets=DATA_NAMES,
    shell:
        "python -m replication fetch {params.datasets:q} 2>&1 | tee {log:q}"
