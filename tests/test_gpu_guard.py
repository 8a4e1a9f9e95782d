"""The workflow stops before its first job when it needs a GPU this machine lacks."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from replication.gpu_guard import NoCudaForGpuJobs, gpu_jobs, stop_if_gpu_jobs_without_cuda


def job(rule: str, gpu: int | None):
    resources = {} if gpu is None else {"gpu": gpu}
    return SimpleNamespace(rule=SimpleNamespace(name=rule), resources=resources)


JOBS = [job("train_vae", 1), job("train_vae", 1), job("train_classifier", 1),
        job("trace_cost", 0), job("fetch_mnist", None), job("all", None)]


def test_gpu_jobs_are_counted_per_rule():
    assert gpu_jobs(JOBS) == {"train_vae": 2, "train_classifier": 1}


def test_local_gpu_jobs_without_cuda_stop_with_one_message():
    with pytest.raises(NoCudaForGpuJobs) as stopped:
        stop_if_gpu_jobs_without_cuda(JOBS, scale="paper", local=True, gpus=0)
    text = str(stopped.value)
    for part in ("3 of the 6 jobs", "train_classifier 1, train_vae 2", "scale: paper",
                 "--config scale=cpu", "--profile profiles/slurm", "nothing was started"):
        assert part in text, text


@pytest.mark.parametrize("case", [
    dict(jobs=JOBS, local=True, gpus=1),                       # a GPU is here
    dict(jobs=JOBS, local=False, gpus=0),                      # jobs go to a cluster
    dict(jobs=[job("trace_cost", 0), job("all", None)], local=True, gpus=0),  # CPU-sized only
])
def test_no_stop_where_the_jobs_can_run(case):
    stop_if_gpu_jobs_without_cuda(case["jobs"], scale="paper", local=case["local"],
                                  gpus=case["gpus"])


@pytest.mark.workflow
def test_the_full_replication_without_cuda_stops_before_fetching_anything(repo_root, tmp_path,
                                                                          mirror):
    """`snakemake --cores all` (scale: paper) on a machine without CUDA: one message, no job."""
    import subprocess
    import time

    from replication.gpu_guard import cuda_gpu_count
    from tests.workflow.conftest import SNAKEMAKE, copy_project, project_env

    if cuda_gpu_count():
        pytest.skip("this machine has a CUDA GPU: the paper scale would run")
    project = copy_project(repo_root, tmp_path)
    start = time.perf_counter()
    done = subprocess.run([*SNAKEMAKE, "--cores", "all", "--config", f"data_mirror={mirror}"],
                          cwd=project, env=project_env(project), capture_output=True, text=True,
                          timeout=300)
    seconds = time.perf_counter() - start
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "need a CUDA GPU" in output and "--config scale=cpu" in output, output[-2000:]
    assert "train_vae" in output and "nothing was started" in output
    assert not (project / "data").exists(), "a dataset was fetched before the stop"
    assert not (project / "results").exists()
    print(f"\nstopped after {seconds:.1f} s")
