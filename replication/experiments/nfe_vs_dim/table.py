"""FFJORD Figure 5's table: NFE per epoch of every latent size, from the jobs' history.csv."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.results import write_text

TABLE = "ffjord/nfe_vs_dim.csv"


def nfe_table(histories: list[Path]) -> pd.DataFrame:
    """One tidy table (latent_dim, epoch, nfe_forward, …) from the runs' ``history.csv``."""
    if not histories:
        raise ValueError("no history.csv given: pass one per latent size")
    frames = []
    for path in histories:
        if not Path(path).is_file():
            raise ValueError(f"{path}: no such file; run the ffjord_nfe jobs first")
        frame = pd.read_csv(path)
        missing = {"latent_dim", "epoch", "nfe_forward", "nfe_backward"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                             "is it the history.csv of an nfe-vs-dim run?")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).sort_values(["latent_dim", "epoch"])
    duplicated = table.duplicated(["latent_dim", "epoch"])
    if duplicated.any():
        dims = sorted(table.loc[duplicated, "latent_dim"].unique())
        raise ValueError(f"latent size(s) {dims} appear in more than one history.csv")
    return table.reset_index(drop=True)


def collect(inputs: list[Path], *, out: Path) -> pd.DataFrame:
    """The table from the jobs' ``history.csv``: out/ffjord/nfe_vs_dim.csv."""
    table = nfe_table(inputs)
    write_text(Path(out) / TABLE, table.to_csv(index=False))
    print(table.groupby("latent_dim")["nfe_forward"].agg(["first", "last"]).to_string())
    return table
