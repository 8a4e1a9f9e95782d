"""The paper-scale cost, measured: ``python -m replication estimate --scale paper --out DIR``.

:mod:`~replication.estimate.plans` and :mod:`~replication.estimate.analysis_plans` list every
job of a scale with its step count, builder and the papers' parameter counts;
:mod:`~replication.estimate.run` times each distinct shape on the device at hand;
:mod:`~replication.estimate.table` does the arithmetic and writes the table.
"""
