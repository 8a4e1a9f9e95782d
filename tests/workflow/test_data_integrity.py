"""`snakemake data` never loses a good file, re-verifies what is present, and quotes its shell.

A private copy of the project (no results) fetches the smoke scale's datasets from the mirror
once; each test then breaks one thing (a corrupt mirror, a removed or byte-flipped data file, a
hostile or spaced mirror path) and runs the pinned Snakemake as a user would. About a minute:
the fetch jobs import no torch.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workflow.conftest import SNAKEMAKE, copy_project, missing_from_mirror, project_env

pytestmark = pytest.mark.workflow


def _snakemake(project: Path, *args: str, mirror: str, excluded: list[str]):
    exclude = [f"exclude_datasets=[{','.join(excluded)}]"] if excluded else []
    return subprocess.run(
        [*SNAKEMAKE, *args, "--cores", "1", "--config", "scale=smoke", f"data_mirror={mirror}",
         *exclude],
        cwd=project, env=project_env(project), capture_output=True, text=True, timeout=600)


def _messages(project: Path, done) -> str:
    """What the user sees: Snakemake's output and the fetch jobs' logs."""
    logs = "".join(path.read_text() for path in sorted((project / "logs" / "data").glob("*.log")))
    return done.stdout + done.stderr + logs


def _hashes(data: Path) -> dict[str, str]:
    return {str(path.relative_to(data)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(data.rglob("*")) if path.is_file() and "manifests" not in path.parts}


def _flip_a_byte(path: Path, offset: int = 100) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def fetched(tmp_path_factory, repo_root, mirror):
    """(project, excluded datasets, the verified data files' hashes) after one `snakemake data`."""
    project = copy_project(repo_root, tmp_path_factory.mktemp("data-project"))
    excluded = missing_from_mirror(project, mirror)
    done = _snakemake(project, "data", mirror=str(mirror), excluded=excluded)
    assert done.returncode == 0, done.stdout + done.stderr
    good = _hashes(project / "data")
    assert any(name.startswith("mnist/") for name in good) and len(good) >= 4
    return project, excluded, good


@pytest.fixture(scope="module")
def corrupt_mirror(tmp_path_factory, mirror):
    """A copy of the mirror in which every file has one byte flipped."""
    root = tmp_path_factory.mktemp("corrupt") / "mirror"
    shutil.copytree(mirror, root)
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size > 200:
            _flip_a_byte(path)
    return root


@pytest.fixture()
def restored(fetched, mirror):
    """After each test: the data directory repaired from the good mirror, and checked."""
    project, excluded, good = fetched
    yield fetched
    done = _snakemake(project, "data", mirror=str(mirror), excluded=excluded)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hashes(project / "data") == good


def test_a_removed_file_and_a_corrupt_mirror_lose_no_other_file(restored, corrupt_mirror):
    project, excluded, good = restored
    removed = project / "data" / "mnist" / "train-labels-idx1-ubyte.gz"
    removed.unlink()
    done = _snakemake(project, "data", mirror=str(corrupt_mirror), excluded=excluded)
    assert done.returncode != 0
    output = _messages(project, done)
    assert "train-labels-idx1-ubyte.gz" in output and "corrupted" in output
    after = _hashes(project / "data")
    assert after == {name: digest for name, digest in good.items()
                     if name != "mnist/train-labels-idx1-ubyte.gz"}, "a good file was lost"


@pytest.mark.parametrize("remove_one", [False, True])
def test_a_forced_refetch_from_a_corrupt_mirror_keeps_every_file(restored, corrupt_mirror,
                                                                 remove_one):
    project, excluded, good = restored
    removed = "mnist/t10k-images-idx3-ubyte.gz" if remove_one else None
    if removed:
        (project / "data" / removed).unlink()
    done = _snakemake(project, "data", "-R", "fetch_mnist", mirror=str(corrupt_mirror),
                      excluded=excluded)
    # present files verify without a copy; a missing one cannot come from a corrupt mirror
    assert (done.returncode != 0) == remove_one, done.stdout + done.stderr
    assert _hashes(project / "data") == {k: v for k, v in good.items() if k != removed}


def test_snakemake_data_re_verifies_files_already_present(restored, corrupt_mirror, mirror):
    project, excluded, good = restored
    flipped = project / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    # same config as the last run, so no fetch job is due: the `data` rule itself re-verifies,
    # and the good mirror replaces the file with a verified copy
    _flip_a_byte(flipped)
    done = _snakemake(project, "data", mirror=str(mirror), excluded=excluded)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing to be done" not in done.stdout + done.stderr
    assert _hashes(project / "data") == good
    # a corrupt mirror cannot repair it: the run fails and names the file
    _flip_a_byte(flipped)
    done = _snakemake(project, "data", mirror=str(corrupt_mirror), excluded=excluded)
    assert done.returncode != 0
    assert "t10k-labels-idx1-ubyte.gz" in _messages(project, done)


def test_a_mirror_path_cannot_inject_a_shell_command(restored, mirror):
    """The issue's value: a real mirror, then `; touch pwned;` (unquoted, the touch ran)."""
    project, excluded, _ = restored
    (project / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()  # make fetch_mnist run
    (project / "data" / "manifests" / "mnist.json").unlink(missing_ok=True)  # and fetch_mnist
    done = _snakemake(project, "data", mirror=f"{mirror}; touch pwned;", excluded=excluded)
    assert not list(project.rglob("pwned")), "a config value ran as a shell command"
    assert done.returncode != 0  # the whole value is one (missing) folder name
    log = (project / "logs" / "data" / "fetch_mnist.log").read_text()
    assert "not found in the data mirror" in log and "touch pwned;/mnist" in log


def test_a_mirror_path_with_a_space_works(restored, mirror, tmp_path):
    project, excluded, good = restored
    spaced = tmp_path / "my mirror"
    shutil.copytree(mirror, spaced)
    (project / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    done = _snakemake(project, "data", mirror=str(spaced), excluded=excluded)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hashes(project / "data") == good
