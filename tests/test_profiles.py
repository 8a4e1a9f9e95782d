"""The two execution profiles: what a single machine and a SLURM cluster get by default (#16)."""
from __future__ import annotations

import re
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


def test_every_job_reserves_the_memory_of_its_scale():
    """Every rule that runs a command declares mem_mb (config job_memory_mb), so
    `--resources mem_mb=N` caps what runs at once on one machine."""
    from replication.config import load_config

    for scale in ("smoke", "paper"):
        done = subprocess.run(
            [sys.executable, "-m", "snakemake", "--dry-run", "--forceall", "--config",
             f"scale={scale}"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        memory = load_config(overrides={"scale": scale})["job_memory_mb"][scale]
        jobs = [b.split("\n\n")[0] for b in re.split(r"\n(?=(?:local)?rule \w+:)", done.stdout)
                if re.match(r"(?:local)?rule \w+:", b)]
        targets = {"all", "article", "ffjord_figures"}  # they run nothing
        for block in jobs:
            rule = block.split()[1].rstrip(":")
            if rule in targets:
                continue
            expected = memory.get(rule, memory["default"])
            assert f"mem_mb={expected}," in block, (scale, rule, block)
        assert len(jobs) > 50
