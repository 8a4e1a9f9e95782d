"""Which committed results were made by older code: each record's current fingerprint.

Every job records in its ``provenance.json`` its spec and the fingerprint of the code it ran
(:meth:`replication.experiments.base.Experiment.fingerprint`, the one the Snakemake rules pass
it). :func:`current_fingerprint` finds the experiment whose job folder for that spec is the
record's folder and asks it for the fingerprint the current code would record;
:func:`stale_results` compares the two for every record under a results folder.

A record is *stale* when its fingerprint differs from the current one, or when it records none;
a record under no experiment's job folder is *unmapped* (reported too: nothing is silently
skipped).

Pure Python (no torch): the claims, the tables and ``claims --check-provenance`` use it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from replication.experiments.registry import experiments

STALE_NOTE = "stale: made by older code"
RECORD = "provenance.json"


@dataclass(frozen=True)
class RecordState:
    path: str  # relative to the results folder
    recorded: str | None
    current: str | None  # None: no experiment's job folder matches

    @property
    def stale(self) -> bool:
        return self.current is not None and self.recorded != self.current

    @property
    def unmapped(self) -> bool:
        return self.current is None

    def describe(self) -> str:
        if self.unmapped:
            return (f"{self.path}: no experiment puts a job with this record's spec here "
                    "(a result of removed code, or a damaged record: rerun or delete it)")
        recorded = self.recorded or "none recorded"
        return f"{self.path}: {STALE_NOTE} (recorded {recorded}, current code {self.current})"


def current_fingerprint(relative: str | PurePosixPath, spec: dict) -> str | None:
    """The fingerprint the current code records for *spec* at *relative* (None: no experiment
    puts a job with this spec there)."""
    folder = PurePosixPath(relative).parent.as_posix()
    if PurePosixPath(relative).name != RECORD or not isinstance(spec, dict):
        return None
    for experiment in experiments():
        try:
            if experiment.job_dir(spec) == folder:
                return experiment.fingerprint(spec)
        except (KeyError, TypeError):  # a spec of another experiment
            continue
    return None


def _records(results: Path) -> list[Path]:
    if not results.is_dir():
        return []
    return sorted(results.rglob(RECORD))


def provenance_states(results: Path | str) -> list[RecordState]:
    """Every provenance record under *results* with its recorded and current fingerprint."""
    results = Path(results)
    states = []
    for path in _records(results):
        relative = path.relative_to(results).as_posix()
        try:
            record = json.loads(path.read_text())
            recorded, spec = record.get("code_fingerprint"), record.get("spec")
        except (OSError, ValueError, AttributeError):
            recorded, spec = None, None
        states.append(RecordState(relative, recorded, current_fingerprint(relative, spec)))
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


def stale_record(record: dict, experiment) -> bool:
    """Whether a run record (:func:`replication.collect.runs.run_record`) of *experiment* was
    made by older code: its recorded fingerprint is not the one the experiment gives for its
    spec now (a record without either is stale)."""
    if not record.get("code_fingerprint") or not record.get("spec"):
        return True
    return record["code_fingerprint"] != experiment.fingerprint(record["spec"])
