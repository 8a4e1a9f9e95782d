"""The experiments, one folder each (see :mod:`replication.experiments.base` for what one is).

Kept empty of imports: every job's code fingerprint includes this package's ``__init__``, so a
new experiment must not change the fingerprints of the others. The list lives in
:mod:`replication.experiments.registry`.
"""
