"""Reading a figure's input tables: a missing file, column or row is an error that names it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_table(path: Path, columns, *, hint: str = "") -> pd.DataFrame:
    """The CSV at *path*, checked to exist, to hold every one of *columns* and to have rows.

    *hint* ends the missing-file message, e.g. the command that writes the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} not found (no such file){'; ' + hint if hint else ''}")
    table = pd.read_csv(path)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                         f"(it has {', '.join(map(str, table.columns))})")
    if table.empty:
        raise ValueError(f"{path}: no rows")
    return table


__all__ = ["read_table"]
