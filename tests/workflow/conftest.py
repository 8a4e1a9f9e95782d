"""The smoke workflow, run once per test session in a private copy of the project.

``project`` is shared by every workflow test (tests/workflow/test_smoke_*.py): one smoke run
(about 2 minutes on 2 cores) serves the rerun checks, the baseline gate and the no-op rerun
benchmark. Tests that change files in the copy restore them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

PROJECT_FILES = ("Snakefile", "rules", "config", "replication", "profiles", "envs")
SNAKEMAKE = (sys.executable, "-m", "snakemake")


def project_env(project: Path) -> dict:
    """Import the copy's package, not the installed one; rules' `python` is this interpreter."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PYTHONPATH": str(project), "PATH": path}


def missing_from_mirror(project: Path, mirror: Path) -> list[str]:
    """The smoke scale's VAE datasets that the mirror lacks (Omniglot's file cannot be had here).

    The smoke run leaves them out (config key exclude_datasets), as a user without them would;
    their VAE table rows then say "not run (excluded)".
    """
    from replication.config import materialize_scales

    config = materialize_scales(yaml.safe_load((project / "config" / "config.yaml").read_text()))
    datasets = config["scales"]["smoke"]["vae"]["datasets"]
    return sorted(name for name in datasets if not any((Path(mirror) / name).glob("*")))


# A guard against a hang, not a speed gate: the smoke workflow takes about 4 min on 2 idle cores,
# and was seen near 15 min where two other runs shared them.
SMOKE_TIMEOUT = 1800


def snakemake(project: Path, *args: str, mirror: Path, check: bool = True,
              timeout: int = SMOKE_TIMEOUT):
    """Run the smoke workflow of *project*; *timeout* only guards against a hang."""
    env = project_env(project)
    excluded = missing_from_mirror(project, mirror)
    exclude = [f"exclude_datasets=[{','.join(excluded)}]"] if excluded else []
    done = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--config", "scale=smoke", f"data_mirror={mirror}", *exclude,
         *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def copy_project(repo_root: Path, destination: Path) -> Path:
    """The files a workflow run needs, copied into *destination* (no results, no data)."""
    for name in PROJECT_FILES:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="session")
def project(tmp_path_factory, repo_root, mirror):
    """A copy of the project after one complete smoke run."""
    root = copy_project(repo_root, tmp_path_factory.mktemp("project"))
    start = time.perf_counter()
    snakemake(root, mirror=mirror)
    print(f"\nsmoke workflow end to end: {time.perf_counter() - start:.1f} s")
    return root
