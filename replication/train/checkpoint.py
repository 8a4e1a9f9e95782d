"""Checkpoints that are written atomically, loaded safely and resumed only by the code that made them.

* Atomic: a crash while saving never leaves a truncated checkpoint behind.
* Safe: every load is ``torch.load(..., weights_only=True)``; a file holding anything but
  tensors and plain data (a crafted pickle, or one written by older code) is refused with
  :class:`UnsafeCheckpointError`, never executed. Specs are stored as JSON text, histories as
  lists of dicts of numbers.
* Owned: :class:`RunCheckpoint` stamps each checkpoint with the run's spec hash and the code
  fingerprint of the job, and resumes only a checkpoint with both equal. Any other checkpoint
  is deleted with a log line saying why, and the run starts from scratch. A completed run
  deletes its checkpoint, so a forced rerun (``snakemake -R``) trains from scratch too.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Callable

import torch

IDENTITY_KEY = "identity"


class UnsafeCheckpointError(RuntimeError):
    """A ``.pt`` file holds objects that safe loading (``weights_only=True``) refuses."""


def save_atomic(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.partial")
    torch.save(state, staged)
    os.replace(staged, path)


def load_weights(path: Path) -> dict:
    """``torch.load(path, weights_only=True)`` on the CPU, refusing anything but plain data."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it holds Python objects that safe loading "
            f"(torch.load weights_only=True) does not allow, so it could run code. It may be a "
            f"crafted file or one written by older code of this suite; delete it (a checkpoint: "
            f"the run then restarts from scratch; a model.pt: rerun its training job). "
            f"Detail: {detail}") from None


def load_if_present(path: Path) -> dict | None:
    return load_weights(path) if path.is_file() else None


class RunCheckpoint:
    """The last-epoch checkpoint of one run, tied to its spec hash and code fingerprint."""

    def __init__(self, path: Path, *, spec_hash: str, code_fingerprint: str,
                 log: Callable[[str], None]) -> None:
        self.path = Path(path)
        self.identity = {"spec_hash": spec_hash, "code_fingerprint": code_fingerprint}
        self.log = log

    def load(self) -> dict | None:
        """The state to resume from, or None: no checkpoint, or one made by other code/spec."""
        state = load_if_present(self.path)
        if state is None:
            return None
        recorded = state.get(IDENTITY_KEY)
        if recorded != self.identity:
            why = ("it records no spec hash or code fingerprint (written by older code)"
                   if not isinstance(recorded, dict) else
                   "it was made by code fingerprint "
                   f"{recorded.get('code_fingerprint')} for spec hash {recorded.get('spec_hash')}")
            self.log(f"restarting from scratch, not resuming {self.path}: {why}; this job is code "
                     f"fingerprint {self.identity['code_fingerprint']}, spec hash "
                     f"{self.identity['spec_hash']}")
            self.discard()
            return None
        return state

    def save(self, state: dict) -> None:
        save_atomic({**state, IDENTITY_KEY: dict(self.identity)}, self.path)

    def discard(self) -> None:
        """Remove the checkpoint (after a completed run, or a mismatch) and its folder if empty."""
        self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:  # not empty, or already gone
            pass
