"""Saving figures: PNG and PDF side by side, with the numbers behind them as CSV."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or assumed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from replication.results import write_text  # noqa: E402


def save_figure(figure, prefix: Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    """Write ``prefix.png``, ``prefix.pdf`` and ``prefix<name>.csv`` for each table."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in (".png", ".pdf"):
        path = prefix.with_suffix(suffix)
        staged = path.with_name(f".{path.stem}.partial{suffix}")
        figure.savefig(staged, dpi=150, bbox_inches="tight")
        staged.replace(path)
        paths.append(path)
    plt.close(figure)
    for name, table in tables.items():
        path = prefix.with_name(f"{prefix.name}{name}.csv")
        write_text(path, table.to_csv(index=False))
        paths.append(path)
    return paths
