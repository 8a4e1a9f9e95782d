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
# The profile's memory requests are sized for the paper scale (up to 16 GB a job); a smoke job
# stays under 1 GB resident, so the test asks for 1.5 GB and the one-node cluster (2 CPUs) runs
# two jobs at a time, as the local run does.
SMOKE_RESOURCES = ("--default-resources", "mem_mb=1500", "runtime=30",
                   "--set-resources", *(f"{rule}:mem_mb=1500" for rule in (
                       "train_classifier", "train_vae", "ffjord_nfe", "toy_density")))


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
    snakemake(cluster, "--profile", "profiles/slurm", *FAST_STATUS, *SMOKE_RESOURCES,
              mirror=mirror)
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
    done = subprocess.run(
        [*SNAKEMAKE, "--profile", "profiles/slurm", *FAST_STATUS], cwd=tmp_path,
        env=project_env(tmp_path), capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    slurm_log = next((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert str(slurm_log) in output, output[-3000:]   # where to look
    assert "the job broke: marker 6817" in output, output[-3000:]  # and what it says
    assert not Path(tmp_path / "never.txt").exists()
