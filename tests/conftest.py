"""Shared fixtures: the repository root and a verified MNIST copy from the data mirror."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
# The test machine has 2 cores; keep each test process to one thread unless a test says otherwise.
torch.set_num_threads(1)


def data_mirror() -> Path | None:
    """The mirror named by $REPLICATION_DATA_MIRROR, else ../shared/data beside the repo."""
    configured = os.environ.get("REPLICATION_DATA_MIRROR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    return candidate if (candidate / "mnist").is_dir() else None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = data_mirror()
    if found is None:
        pytest.fail("no data mirror: set REPLICATION_DATA_MIRROR to a folder like shared/data")
    return found


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory, mirror) -> Path:
    """A data directory holding verified MNIST files (copied once per test session)."""
    from replication.data.fetch import fetch_dataset

    root = tmp_path_factory.mktemp("data")
    fetch_dataset("mnist", data_dir=root, mirror=mirror)
    return root
