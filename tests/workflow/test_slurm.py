"""The smoke workflow through a real SLURM (`--profile profiles/slurm`), as a cluster user runs it.

`.ci/run` starts a one-node SLURM on the CI machine first (`.ci/slurm.sh up`: Debian's slurmctld,
slurmd and munge). Elsewhere these tests run where `sinfo` answers and are skipped, with the
command that starts one, where it does not; under CI a missing SLURM is a failure.

- the whole smoke workflow, submitted job by job with sbatch, gives the same gated values as the
  local run of the same code (the session's `project`): the regression gate's tolerances, exact
  for every counter and parameter count;
- a job that fails on the cluster shows its SLURM log to the user, not only its path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from replication.regress import check, update
from tests.workflow.conftest import SNAKEMAKE, copy_project, project_env, snakemake

pytestmark = pytest.mark.workflow

# The executor checks job states every few seconds here, not after its cluster default of 40 s.
FAST_STATUS = ("--slurm-init-seconds-before-status-checks", "2")
# Every rule asks for its scale's memory (config job_memory_mb: 1 GB a smoke job), so the
# one-node cluster (2 CPUs) runs two jobs at a time, as the local run does; smoke jobs take
# minutes, not the profile's paper-sized runtimes.
SMOKE_RESOURCES = ("--default-resources", "runtime=30")
# A guard against a hang only: the run takes about 8-10 min on an idle 2-core machine, and on a
# shared one (other jobs on the same cores) it was seen to take over 15.
SLURM_TIMEOUT = 2400


def _cancel_submitted(project: Path) -> None:
    """Cancel the jobs this project's run submitted (their ids name its SLURM logs), so that a
    run that failed or timed out leaves nothing queued on the cluster for the next test."""
    ids = sorted({log.stem for log in (project / ".snakemake" / "slurm_logs").rglob("*.log")
                  if log.stem.isdigit()})
    if ids and shutil.which("scancel"):
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)


def _slurm_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return done.returncode == 0 and any(s in done.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if _slurm_answers():
        return
    message = "no SLURM answers `sinfo` here; start a one-node cluster with `bash .ci/slurm.sh up`"
    if os.environ.get("CI"):
        pytest.fail(message + " (.ci/run does this before the tests)")
    pytest.skip(message)


def test_smoke_workflow_through_slurm_equals_the_local_run(slurm, project, mirror, repo_root,
                                                           tmp_path_factory):
    cluster = copy_project(repo_root, tmp_path_factory.mktemp("slurm-project"))
    start = time.perf_counter()
    try:
        snakemake(cluster, "--profile", "profiles/slurm", *FAST_STATUS, *SMOKE_RESOURCES,
                  mirror=mirror, timeout=SLURM_TIMEOUT)
    finally:
        _cancel_submitted(cluster)
    print(f"\nsmoke workflow through SLURM: {time.perf_counter() - start:.0f} s")
    slurm_logs = list((cluster / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(slurm_logs) > 20, "the jobs did not go through sbatch"

    local = tmp_path_factory.mktemp("local-baselines")
    update(project, local, scale="smoke")  # the local run's gated values, as baselines
    report = check(cluster, local, scale="smoke")
    assert report.ok, "the SLURM run differs from the local run:\n" + "\n".join(
        d.message for d in report.drifts)
    assert (report.frame["verdict"] == "ok").sum() > 100


def test_a_failing_job_shows_its_slurm_log(slurm, repo_root, tmp_path):
    shutil.copytree(repo_root / "profiles", tmp_path / "profiles")
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""\
        rule fails:
            output: "never.txt"
            shell: "echo 'the job broke: marker 6817' >&2; exit 3"
        """))
    try:
        done = subprocess.run(
            [*SNAKEMAKE, "--profile", "profiles/slurm", *FAST_STATUS], cwd=tmp_path,
            env=project_env(tmp_path), capture_output=True, text=True, timeout=600)
    finally:
        _cancel_submitted(tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    slurm_log = next((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert str(slurm_log) in output, output[-3000:]   # where to look
    assert "the job broke: marker 6817" in output, output[-3000:]  # and what it says
    assert not Path(tmp_path / "never.txt").exists()
