# Stage 1: datasets, copied from a mirror or downloaded, verified by their published checksums.
from replication.data.catalog import DATASET_NAMES, dataset_paths

# Not a param: where the verified bytes come from does not change them, so no rerun.
MIRROR_OPTION = f"--mirror {config['data_mirror']}" if config.get("data_mirror") else ""


def dataset_files(name):
    """The verified files of dataset `name`, as rule inputs (ancient: their age never triggers reruns)."""
    return [ancient(str(path)) for path in dataset_paths(name, DATA)]


for _dataset in DATASET_NAMES:

    rule:
        name:
            f"fetch_{_dataset}"
        output:
            [str(path) for path in dataset_paths(_dataset, DATA)],
        params:
            dataset=_dataset,
        log:
            f"logs/data/fetch_{_dataset}.log",
        shell:
            "python -m replication fetch {params.dataset} --data-dir {DATA} {MIRROR_OPTION}"
            " > {log} 2>&1"
