"""The two execution profiles: what a single machine and a SLURM cluster get by default (#16)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def _profile(name: str) -> dict:
    return yaml.safe_load((REPO_ROOT / "profiles" / name / "config.yaml").read_text())


def test_the_local_profile_caps_gpu_jobs_and_prints_failed_logs():
    local = _profile("local")
    assert local["show-failed-logs"] is True
    assert "gpu=1" in local["resources"]  # one GPU job at a time unless --resources gpu=N


def test_the_slurm_profile_prints_failed_logs_too():
    assert _profile("slurm")["show-failed-logs"] is True


def test_the_local_profile_plans_the_smoke_workflow_with_its_gpu_cap():
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--profile", "profiles/local",
         "--config", "scale=smoke"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "rule train_classifier" in done.stdout
