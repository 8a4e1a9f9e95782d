"""The replication report: verdicts first, then tables, figures and provenance (REPORT.md/.html).

- :mod:`~replication.report.build`: :func:`write_report` (and its parts).
- :mod:`~replication.report.captions`: every table's and figure's title and caption.
- :mod:`~replication.report.provenance`: provenance records aggregated over a scale's results.
"""

from replication.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
