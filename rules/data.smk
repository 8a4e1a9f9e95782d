# Stage 1: datasets, copied from a mirror or downloaded, verified by sha256.
from replication.data import DATASETS

MIRROR = config.get("data_mirror")


def dataset_files(name):
    """The verified files of dataset `name`, as rule inputs (ancient: their age never triggers reruns)."""
    return [ancient(str(path)) for path in DATASETS[name].paths(DATA)]


rule fetch_dataset:
    output:
        [str(path) for path in DATASETS["mnist"].paths(DATA)],
    params:
        mirror=f"--mirror {MIRROR}" if MIRROR else "",
    log:
        "logs/data/fetch_mnist.log",
    shell:
        "python -m replication fetch mnist --data-dir {DATA} {params.mirror} > {log} 2>&1"
