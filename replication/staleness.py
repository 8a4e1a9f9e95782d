"""Which committed results were made by older code: each result folder's current fingerprint.

Every job records in its ``provenance.json`` (or ``<name>.provenance.json``) the fingerprint of
the code it ran (:mod:`replication.fingerprint`), the one the Snakemake rules pass it from
:mod:`replication.workflow`. :data:`RESULT_FINGERPRINTS` maps each result folder of
``results/<scale>`` to the ``workflow`` function giving the fingerprint the current code would
record there; :func:`stale_results` compares the two for every record under a results folder.

A record is *stale* when its fingerprint differs from the current one, or when it records none;
a record under no known folder is *unmapped* (reported too: nothing is silently skipped).

Pure Python (no torch): the claims, the tables and ``check-provenance`` use it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Callable

from replication import workflow as W

STALE_NOTE = "stale: made by older code"

# (glob over the record's path relative to results/<scale>, fingerprint from the path's parts)
RESULT_FINGERPRINTS: tuple[tuple[str, Callable[[tuple[str, ...]], str]], ...] = (
    ("classify/*/seed*/provenance.json", lambda p: W.classify_fingerprint(p[1])),
    ("vae/*/*/seed*/provenance.json", lambda p: W.vae_fingerprint(p[2], p[1])),
    ("article/*/seed*/provenance.json", lambda p: W.article_fingerprint()),
    ("article/*/*/seed*/provenance.json", lambda p: W.article_fingerprint()),
    ("figure3/tolerance_sweep.provenance.json", lambda p: W.tolerance_fingerprint()),
    ("memory_depth/points.provenance.json", lambda p: W.memory_depth_fingerprint()),
    ("ffjord/nfe_vs_dim/d*/provenance.json", lambda p: W.nfe_vs_dim_fingerprint()),
    ("ffjord/toy/*/provenance.json", lambda p: W.toy_density_fingerprint()),
    ("ffjord/trace_cost/provenance.json", lambda p: W.trace_cost_fingerprint()),
)


@dataclass(frozen=True)
class RecordState:
    path: str  # relative to the results folder
    recorded: str | None
    current: str | None  # None: no folder of RESULT_FINGERPRINTS matches

    @property
    def stale(self) -> bool:
        return self.current is not None and self.recorded != self.current

    @property
    def unmapped(self) -> bool:
        return self.current is None

    def describe(self) -> str:
        if self.unmapped:
            return f"{self.path}: no known fingerprint for this folder (add it to " \
                   "replication/staleness.py RESULT_FINGERPRINTS)"
        recorded = self.recorded or "none recorded"
        return f"{self.path}: {STALE_NOTE} (recorded {recorded}, current code {self.current})"


def current_fingerprint(relative: str | PurePosixPath) -> str | None:
    """The fingerprint the current code records at *relative* (None: not a known folder)."""
    relative = PurePosixPath(relative)
    for pattern, fingerprint in RESULT_FINGERPRINTS:
        if len(relative.parts) == len(PurePosixPath(pattern).parts) and fnmatchcase(
                str(relative), pattern):
            return fingerprint(relative.parts)
    return None


def _records(results: Path) -> list[Path]:
    if not results.is_dir():
        return []
    return sorted(set(results.rglob("provenance.json")) | set(results.rglob("*.provenance.json")))


def provenance_states(results: Path | str) -> list[RecordState]:
    """Every provenance record under *results* with its recorded and current fingerprint."""
    results = Path(results)
    states = []
    for path in _records(results):
        relative = path.relative_to(results).as_posix()
        try:
            recorded = json.loads(path.read_text()).get("code_fingerprint")
        except (OSError, ValueError, AttributeError):
            recorded = None
        states.append(RecordState(relative, recorded, current_fingerprint(relative)))
    return states


@lru_cache(maxsize=16)
def _stale_paths(results: str, _mtime_key: tuple) -> tuple[str, ...]:
    return tuple(s.path for s in provenance_states(results) if s.stale)


def stale_results(results: Path | str) -> list[str]:
    """Paths (relative to *results*) of the records made by other code than the current."""
    results = Path(results)
    key = tuple((str(p), p.stat().st_mtime_ns) for p in _records(results))
    return list(_stale_paths(str(results), key))


def stale_under(results: Path | str, folders) -> list[str]:
    """The stale records in any of *folders* (relative to *results*, e.g. 'classify/odenet')."""
    prefixes = [f.rstrip("/") + "/" for f in folders]
    return [p for p in stale_results(results) if any(p.startswith(f) for f in prefixes)]


def stale_run(run_dir: Path | str, results: Path | str) -> bool:
    """Whether the run folder *run_dir* (under *results*) was made by older code."""
    relative = Path(run_dir).resolve().relative_to(Path(results).resolve()).as_posix()
    return bool(stale_under(results, [relative]))
