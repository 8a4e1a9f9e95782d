"""The regression gates on a fresh smoke run (the session's shared `project`, see conftest.py).

- accuracy: every gated value of the fresh results is within its tolerance of the committed
  baselines (results/baselines/smoke/), and a perturbed copy of the same results is caught;
- speed: the smoke workflow's no-op rerun against `snakemake --version`, a same-run ratio in the
  committed band (tests/benchmarks/bands.yaml). It lives here, not in tests/benchmarks/, because
  it needs the smoke run, and a conftest fixture is visible only in and below its folder.
"""
from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

from replication.regress import GATES, check
from replication.regress.engine import perturb
from replication.regress.spec import TABLE1, TOLERANCE_SWEEP
from replication.regress.speed import band, load_bands, paired_benchmark
from tests.workflow.conftest import SNAKEMAKE, project_env, snakemake

pytestmark = pytest.mark.workflow

SCALE = "smoke"


@pytest.fixture(scope="module")
def committed(repo_root):
    path = repo_root / "results" / "baselines" / SCALE
    assert (path / "table1.csv").is_file(), f"no committed baselines in {path}"
    return path


def test_fresh_smoke_results_match_the_committed_baselines(project, committed):
    report = check(project, committed, scale=SCALE)
    print("\n" + "\n".join([report.summary(), *report.notes]))
    assert report.ok, "drifts from the committed smoke baselines:\n" + "\n".join(
        d.message for d in report.drifts)
    verdicts = report.frame["verdict"].value_counts()
    assert verdicts.get("ok", 0) > 100  # every table was compared value by value


def test_perturbed_copy_of_the_fresh_results_is_caught(project, committed, tmp_path):
    for table in GATES:  # a copy: the shared smoke project stays untouched
        source = project / table.result_path(SCALE)
        if not source.is_file():  # not produced at this scale: its absence is checked above
            continue
        (tmp_path / table.result_path(SCALE)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, tmp_path / table.result_path(SCALE))
    assert check(tmp_path, committed, scale=SCALE).ok, "the unperturbed copy passes"
    perturb(tmp_path, TABLE1, "test_error_mean", add=8.0, row="model=odenet", scale=SCALE)
    perturb(tmp_path, TABLE1, "nfe_forward_per_batch", factor=1.3, row="model=odenet",
            scale=SCALE)
    perturb(tmp_path, TOLERANCE_SWEEP, "nfe_forward", factor=1.3, scale=SCALE)
    drifts = check(tmp_path, committed, scale=SCALE).drifts
    caught = {(d.table, d.row, d.metric) for d in drifts}
    assert ("table1", "model=odenet", "test_error_mean") in caught
    assert ("table1", "model=odenet", "nfe_forward_per_batch") in caught
    sweep_rows = {row for table, row, metric in caught if table == "tolerance_sweep"}
    tolerances = pd.read_csv(tmp_path / TOLERANCE_SWEEP.result_path(SCALE))["tolerance"]
    assert len(sweep_rows) == len(tolerances), "every tolerance's NFE +30 % is caught"
    assert len(caught) == 2 + len(sweep_rows), sorted(caught)
    message = next(d.message for d in drifts if d.metric == "test_error_mean")
    for text in ("table1 [model=odenet] test_error_mean", "new ", "baseline ", "±6.67 absolute"):
        assert text in message, message


@pytest.mark.benchmark(group="workflow")
def test_noop_rerun_vs_snakemake_version(project, mirror, repo_root, benchmark):
    bands = load_bands(repo_root / "tests" / "benchmarks" / "bands.yaml")
    env = project_env(project)

    def version():
        subprocess.run([*SNAKEMAKE, "--version"], cwd=project, env=env, capture_output=True,
                       check=True, timeout=120)

    timing, done = paired_benchmark(benchmark, lambda: snakemake(project, mirror=mirror), version,
                                    rounds=3, warmup_rounds=1)
    assert "Nothing to be done" in done.stdout + done.stderr, "the rerun was not a no-op"
    committed = band(bands, "noop_rerun_vs_version")
    benchmark.extra_info.update(timing.as_extra_info(committed))
    print(f"\nno-op rerun vs snakemake --version: ratio {timing.ratio:.2f} in "
          f"[{committed.low:g}, {committed.high:g}]; {timing.describe()}")
    if timing.rounds < 3:
        pytest.skip(f"{timing.rounds} round(s) (benchmarks disabled?): ratio not gated")
    assert committed.contains(timing.ratio), committed.message(timing.ratio, timing)
