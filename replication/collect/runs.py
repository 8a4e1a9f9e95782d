"""Reading per-run result folders into tidy rows (metrics plus the provenance that identifies them)."""
from __future__ import annotations

import json
from pathlib import Path


# Metrics that runs made by older code lack: their column exists (empty) for every run, so a
# table can aggregate it. Such runs are stale anyway (their code fingerprint differs).
METRICS_ADDED_LATER = {"saved_tensor_bytes": None}


def run_record(metrics_path: Path) -> dict:
    """A run's ``metrics.json`` with the provenance fields that say where its numbers came from."""
    path = Path(metrics_path)
    metrics = json.loads(path.read_text())
    provenance_path = path.with_name("provenance.json")
    provenance = json.loads(provenance_path.read_text()) if provenance_path.is_file() else {}
    return {
        **METRICS_ADDED_LATER,
        **metrics,
        "git_sha": provenance.get("git_sha"),
        "git_dirty": provenance.get("git_dirty"),
        "device_name": provenance.get("device_name"),
        "torch": provenance.get("packages", {}).get("torch"),
        "cpu_capability": provenance.get("cpu_capability"),
        "code_fingerprint": provenance.get("code_fingerprint"),
        "spec": provenance.get("spec", {}),
        "run_dir": str(path.parent),
    }
