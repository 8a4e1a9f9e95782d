"""FFJORD Figure 5 from the NFE table: NFE per training batch against epoch, one line per D."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.plots.inputs import read_table
from replication.plots.style import plt, save_figure

COLUMNS = ("latent_dim", "epoch", "nfe_forward", "nfe_backward")


def read_nfe_table(path: Path) -> pd.DataFrame:
    return read_table(path, COLUMNS,
                      hint="build it with `python -m replication collect nfe_vs_dim`")


def nfe_vs_dim_figure(table: pd.DataFrame, *, prefix: Path) -> list[Path]:
    """Left: NFE-F (the Hutchinson-trace forward solve) per batch; right: NFE-B (adjoint)."""
    figure, (forward_ax, backward_ax) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    summary = []
    for dim, rows in table.sort_values("epoch").groupby("latent_dim"):
        forward_ax.plot(rows["epoch"], rows["nfe_forward"], "o-", ms=3, label=f"D = {dim}")
        backward_ax.plot(rows["epoch"], rows["nfe_backward"], "o-", ms=3, label=f"D = {dim}")
        summary.append({"latent_dim": dim, "epochs": len(rows),
                        "nfe_forward_first": rows["nfe_forward"].iloc[0],
                        "nfe_forward_last": rows["nfe_forward"].iloc[-1],
                        "nfe_backward_last": rows["nfe_backward"].iloc[-1]})
    forward_ax.set_ylabel("NFE-F per training batch (mean over the epoch)")
    backward_ax.set_ylabel("NFE-B per training batch (adjoint)")
    for ax in (forward_ax, backward_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(title="latent size")
    figure.suptitle("FFJORD VAE on binarized MNIST: solver cost during training vs latent size")
    return save_figure(figure, prefix, {"": table, "_summary": pd.DataFrame(summary)})


def figure(inputs: list, *, out) -> list[Path]:
    """Figure 5 from [its table]: out/ffjord_nfe_vs_dim.*"""
    return nfe_vs_dim_figure(read_nfe_table(inputs[0]), prefix=Path(out) / "ffjord_nfe_vs_dim")


__all__ = ["figure", "nfe_vs_dim_figure", "read_nfe_table"]
