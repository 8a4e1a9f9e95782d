"""Rendering a table to CSV, Markdown and LaTeX side by side, atomically."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.results import write_text as _write


def write_table(
    data: pd.DataFrame, display: pd.DataFrame, prefix: Path, *, title: str, notes: list[str]
) -> list[Path]:
    """``prefix.csv`` holds *data* (numbers, tidy); ``.md`` and ``.tex`` hold *display*."""
    prefix = Path(prefix)
    paths = [prefix.with_suffix(".csv"), prefix.with_suffix(".md"), prefix.with_suffix(".tex")]
    _write(paths[0], data.to_csv(index=False))
    markdown = f"### {title}\n\n{display.to_markdown(index=False)}\n\n" + "".join(
        f"- {note}\n" for note in notes)
    _write(paths[1], markdown)
    latex = display.to_latex(index=False, escape=True, caption=title, label=f"tab:{prefix.name}")
    _write(paths[2], latex + "".join(f"% {note}\n" for note in notes))
    return paths
