"""What the Snakemake rules need from the package: output paths and code fingerprints.

Pure Python (no torch), imported by the Snakefile at parse time.
"""
from __future__ import annotations

from replication.fingerprint import code_fingerprint
from replication.models import MODELS

CLASSIFY_MODULE = "replication.experiments.classify"
TABLE1_MODULE = "replication.collect.table1"


def classify_run_dir(results_dir: str, spec: dict) -> str:
    return f"{results_dir}/{spec['scale']}/classify/{spec['model']}/seed{spec['seed']}"


def classify_fingerprint(model: str) -> str:
    """Code a classifier run depends on: the experiment and the one model it builds."""
    return code_fingerprint(CLASSIFY_MODULE, MODELS.module_of(model))


def table1_fingerprint() -> str:
    return code_fingerprint(TABLE1_MODULE)
