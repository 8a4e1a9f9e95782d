"""Writing result files atomically: a failed write never replaces a good file."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write *text* to a staging file, then rename it over *path*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.partial")
    staged.write_text(text)
    os.replace(staged, path)


def write_json(path: Path, payload: dict) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        raise ValueError(f"refusing to write {path}: no rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.partial")
    with open(staged, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(staged, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
