"""Provenance of a scale's results, aggregated from every ``provenance.json`` under its folder.

Each job writes ``provenance.json`` into its folder (replication.experiments.base.run_job) with
its git state, package versions, hardware and start/end times (replication.measure.provenance).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HARDWARE_KEYS = (
    "device",
    "device_name",
    "cpu_model",
    "cpu_count",
    "torch_threads",
    "torch_cuda",
    "cudnn",
    "platform",
)


@dataclass
class Run:
    path: str  # relative to the results folder
    experiment: str  # first folder under results/<scale>, e.g. classify, figure3, vae
    record: dict

    @property
    def seconds(self) -> float | None:
        try:
            started = datetime.fromisoformat(self.record["started"])
            finished = datetime.fromisoformat(self.record["finished"])
        except (KeyError, TypeError, ValueError):
            return None
        return (finished - started).total_seconds()


@dataclass
class Provenance:
    runs: list[Run] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def hardware(self) -> list[tuple[dict, int]]:
        """Distinct hardware descriptions with the number of runs on each."""
        counts = Counter(
            json.dumps({k: r.record.get(k) for k in HARDWARE_KEYS}, sort_keys=True)
            for r in self.runs
        )
        return [(json.loads(key), count) for key, count in counts.most_common()]

    def packages(self) -> dict[str, Counter]:
        """Package -> Counter of versions over runs (one version each when all runs agree)."""
        versions: dict[str, Counter] = defaultdict(Counter)
        for run in self.runs:
            for name, version in (run.record.get("packages") or {}).items():
                versions[name][str(version)] += 1
        return dict(sorted(versions.items()))

    def git(self) -> list[tuple[str, bool | None, int, list[str]]]:
        """(sha, dirty, number of runs, experiments) for each code state results came from."""
        groups: dict[tuple, list[Run]] = defaultdict(list)
        for run in self.runs:
            groups[(run.record.get("git_sha", "unknown"), run.record.get("git_dirty"))].append(run)
        return [
            (sha, dirty, len(runs), sorted({r.experiment for r in runs}))
            for (sha, dirty), runs in sorted(groups.items(), key=lambda item: -len(item[1]))
        ]

    def times(self) -> list[tuple[str, int, float]]:
        """(experiment, runs, total seconds) per experiment, in folder order."""
        totals: dict[str, list] = {}
        for run in self.runs:
            entry = totals.setdefault(run.experiment, [0, 0.0])
            entry[0] += 1
            entry[1] += run.seconds or 0.0
        return [(name, count, seconds) for name, (count, seconds) in totals.items()]

    @property
    def total_seconds(self) -> float:
        return sum(run.seconds or 0.0 for run in self.runs)


def collect_provenance(results: Path | str) -> Provenance:
    """Every provenance record under *results*, sorted by path."""
    results = Path(results)
    found = Provenance()
    if not results.is_dir():
        return found
    paths = sorted(results.rglob("provenance.json"))
    for path in paths:
        relative = path.relative_to(results)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            found.unreadable.append(str(relative))
            continue
        experiment = relative.parts[0] if len(relative.parts) > 1 else relative.stem.split(".")[0]
        found.runs.append(Run(str(relative), experiment, record))
    return found


def duration(seconds: float) -> str:
    """Seconds as '1 h 02 min', '3.4 min' or '12 s'."""
    if seconds >= 3600:
        hours, rest = divmod(int(round(seconds)), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"
