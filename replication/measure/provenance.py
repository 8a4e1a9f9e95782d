"""Where a result came from: code version, software, hardware, seed and configuration."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Paths whose uncommitted changes make a result's code "dirty" (results/ are outputs, not code).
CODE_PATHS = ("replication", "Snakefile", "rules", "config", "envs", "pyproject.toml")
PACKAGES = ("torch", "torchdiffeq", "numpy", "pandas", "scipy", "matplotlib", "snakemake", "pooch")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def config_hash(spec: dict) -> str:
    """A short, stable hash of a resolved run specification (canonical JSON)."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_state() -> dict:
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return {"git_sha": sha or "unknown", "git_dirty": bool(status) if status is not None else None}


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_isa() -> dict:
    """The instruction sets the CPU kernels run with: they decide library workspace and rounding.

    ``cpu_capability`` is what torch's own kernels dispatch to (``ATEN_CPU_CAPABILITY`` can lower
    it); oneDNN, which runs the convolutions, picks its kernels up to ``ONEDNN_MAX_CPU_ISA``.
    """
    import torch

    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA") or None,
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY") or None,
    }


def hardware(device: str) -> dict:
    import torch

    info = {
        "device": device,
        "device_name": cpu_model(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        **cpu_isa(),
        "torch_build": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
    }
    if device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return info


def provenance(*, spec: dict, code_fingerprint: str, device: str, started: dict) -> dict:
    """Everything needed to tell where a run's numbers came from.

    *started* is :func:`start_record` taken when the run began, so the code state is
    the one the run started from, not whatever the tree holds when it ends.
    """
    return {
        **started,
        "code_fingerprint": code_fingerprint,
        "config_hash": config_hash(spec),
        "seed": spec.get("seed"),
        "spec": spec,
        "packages": package_versions(),
        **hardware(device),
        "finished": utc_now(),
    }


def start_record() -> dict:
    """What to note when a run starts: the time and the git state of the code."""
    return {"started": utc_now(), **git_state()}
