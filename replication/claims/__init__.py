"""Claims registry and verdicts: is each claim of the papers and the article reproduced?

- ``claims.yaml``: the registry, validated against ``schema.yaml``.
- :mod:`~replication.claims.verdicts`: :func:`load_claims`, :func:`evaluate_claims`, claims.csv.
- :mod:`~replication.claims.measures` / :mod:`~replication.claims.checks`: how measured values
  are read and qualitative claims decided; :mod:`~replication.claims.sources`: the file and
  column names they read, in one place.
- the ``claims`` and ``report`` verbs of :mod:`replication.cli` call these.
"""

from replication.claims.verdicts import (
    VERDICTS,
    ClaimsError,
    evaluate_claims,
    load_claims,
    write_claims_csv,
)

__all__ = ["VERDICTS", "ClaimsError", "evaluate_claims", "load_claims", "write_claims_csv"]
