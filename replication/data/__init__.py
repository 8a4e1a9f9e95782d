"""Datasets: where their files come from (``sources``), how they are fetched and
verified (``fetch``), and how they are read into tensors (one module per dataset)."""
from replication.data.sources import DATASETS, DatasetSource, SourceFile

__all__ = ["DATASETS", "DatasetSource", "SourceFile"]
