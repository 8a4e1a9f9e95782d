"""Regression gates: fresh results against committed baselines, value by value.

- :mod:`~replication.regress.spec`: which tables, key columns and metrics are gated, with the
  tolerance kind, tolerance and reason of each metric (:data:`~replication.regress.spec.GATES`).
- :mod:`~replication.regress.engine`: :func:`update` writes ``results/baselines/<scale>/*.csv``
  from a results folder; :func:`check` compares and returns a :class:`Report` whose ``drifts``
  name the table, row, metric, new value, baseline and tolerance.
- the ``baselines check`` / ``baselines update`` verb of :mod:`replication.cli`.
"""
from replication.regress.engine import BaselineError, Drift, Report, check, compare, update
from replication.regress.spec import GATES, Metric, Table

__all__ = ["GATES", "BaselineError", "Drift", "Metric", "Report", "Table", "check", "compare",
           "update"]
