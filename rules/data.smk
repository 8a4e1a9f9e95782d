# Stage 1: datasets, copied from a mirror or downloaded, verified by sha256.
from replication.data import DATASETS

# Not a param: where the verified bytes come from does not change them, so no rerun.
MIRROR_OPTION = f"--mirror {config['data_mirror']}" if config.get("data_mirror") else ""


def dataset_files(name):
    """The verified files of dataset `name`, as rule inputs (ancient: their age never triggers reruns)."""
    return [ancient(str(path)) for path in DATASETS[name].paths(DATA)]


rule fetch_dataset:
    output:
        [str(path) for path in DATASETS["mnist"].paths(DATA)],
    log:
        "logs/data/fetch_mnist.log",
    shell:
        "python -m replication fetch mnist --data-dir {DATA} {MIRROR_OPTION} > {log} 2>&1"
