"""Atomic checkpoints: a crash while saving never leaves a truncated checkpoint behind."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.partial")
    torch.save(state, staged)
    os.replace(staged, path)


def load_if_present(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
