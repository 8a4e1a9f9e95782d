"""The Snakemake workflow end to end at the smoke scale, in a private copy of the project.

One smoke run, then dry runs that check Snakemake's rerun behaviour: nothing to do
on a second run; a model's config or code change reruns exactly that model's job
(and the table); an invalid config fails before any job.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.workflow

PROJECT_FILES = ("Snakefile", "rules", "config", "replication", "profiles")


def snakemake(project: Path, *args: str, mirror: Path, check: bool = True):
    env = {**os.environ, "PYTHONPATH": str(project)}  # the copy's package, not the installed one
    done = subprocess.run(
        ["snakemake", "--cores", "2", "--config", "scale=smoke", f"data_mirror={mirror}", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def planned_jobs(output: str) -> set[str]:
    """(rule, model) pairs a dry run would execute."""
    jobs = set()
    for block in re.split(r"\n(?=(?:local)?rule )", output):
        rule = re.match(r"(?:local)?rule (\w+):", block.strip())
        if rule:
            model = re.search(r"wildcards: model=(\w+)", block)
            jobs.add(f"{rule.group(1)}:{model.group(1)}" if model else rule.group(1))
    return jobs


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo_root, mirror):
    """A copy of the project after one complete smoke run."""
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    start = time.perf_counter()
    snakemake(root, mirror=mirror)
    print(f"\nsmoke workflow end to end: {time.perf_counter() - start:.1f} s")
    return root


def test_smoke_run_produces_table1_with_every_model(project):
    table = pd.read_csv(project / "results" / "smoke" / "table1.csv")
    assert set(table["model"]) == {"mlp", "resnet", "rknet", "odenet", "stem", "resnet1"}
    assert (table["parameters"] > 0).all() and table["test_error_mean"].between(0, 100).all()
    odenet = table.set_index("model").loc["odenet"]
    assert odenet["nfe_forward_per_batch"] > 0 and odenet["nfe_backward_per_batch"] > 0
    assert table.set_index("model").loc["resnet", "parameters"] == 601_482
    for name in ("table1.md", "table1.tex", "classify/runs.csv"):
        assert (project / "results" / "smoke" / name).stat().st_size > 0
    for run in (project / "results" / "smoke" / "classify").glob("*/seed0"):
        assert (run / "provenance.json").is_file() and (run / "history.csv").is_file()
    assert list((project / "logs" / "smoke" / "classify").glob("*.log")), "every job has a log"


def test_second_run_does_nothing(project, mirror):
    start = time.perf_counter()
    done = snakemake(project, mirror=mirror)
    print(f"\nno-op rerun: {time.perf_counter() - start:.1f} s")
    assert "Nothing to be done" in done.stdout + done.stderr


def test_config_change_reruns_exactly_that_model(project, mirror):
    config_path = project / "config" / "config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    config["scales"]["smoke"]["classify"]["models"]["odenet"]["architecture"]["rtol"] = 1e-4
    config_path.write_text(yaml.safe_dump(config))
    try:
        done = snakemake(project, "--dry-run", mirror=mirror)
    finally:
        config_path.write_text(original)
    assert planned_jobs(done.stdout) == {"train_classifier:odenet", "table1", "all"}


def test_code_change_reruns_exactly_the_jobs_that_import_it(project, mirror):
    module = project / "replication" / "models" / "resnet.py"
    original = module.read_text()
    comment_only = original + "\n# a comment changes no behaviour\n"
    changed = original.replace("blocks: int = 6", "blocks: int = 5")
    assert changed != original
    try:
        module.write_text(comment_only)
        assert "Nothing to be done" in snakemake(project, "--dry-run", mirror=mirror).stdout
        module.write_text(changed)
        done = snakemake(project, "--dry-run", mirror=mirror)
    finally:
        module.write_text(original)
    assert planned_jobs(done.stdout) == {
        "train_classifier:resnet", "train_classifier:resnet1", "train_classifier:stem",
        "table1", "all",
    }


@pytest.mark.parametrize(
    ("override", "key"),
    [("scale=huge", "config key scale"), ("checkpoint_dir=", "config key checkpoint_dir")],
)
def test_invalid_config_fails_before_any_job(project, mirror, override, key):
    done = snakemake(project, "--config", override, mirror=mirror, check=False)
    assert done.returncode != 0
    assert key in done.stdout + done.stderr
    assert "rule train_classifier" not in done.stdout


def test_cuda_jobs_request_a_gpu(project, mirror):
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(["snakemake", "--dry-run", "--cores", "4", "--config", "scale=paper"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    train_blocks = [b for b in done.stdout.split("\n\n") if "rule train_classifier" in b]
    assert len(train_blocks) == 18  # 6 models × 3 seeds
    assert all("gpu=1" in block for block in train_blocks)
