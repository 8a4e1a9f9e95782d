"""Neural ODE Figure 3: statistics of a trained ODE-Net (spec §2).

(a) forward NFE vs numerical error, (b) forward NFE vs forward time — both from a
tolerance sweep at test time; (c) backward vs forward NFE during adjoint training,
with the fitted ratio (the paper: "roughly half"); (d) forward NFE over training.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from replication.plots.style import plt


def backward_forward_ratio(batches: pd.DataFrame) -> float:
    """Least-squares slope through the origin of NFE-B against NFE-F."""
    forward = batches["nfe_forward"].to_numpy(float)
    backward = batches["nfe_backward"].to_numpy(float)
    return float(forward @ backward / (forward @ forward))


def panel_error(ax, sweep: pd.DataFrame) -> None:
    ax.loglog(sweep["relative_error"], sweep["nfe_forward"], "o-")
    for i, row in enumerate(sweep.itertuples()):  # alternate sides: equal NFEs share a height
        ax.annotate(f"{row.tolerance:.0e}", (row.relative_error, row.nfe_forward),
                    textcoords="offset points", xytext=(4, 4 if i % 2 else -10), fontsize=7)
    ax.set_xlabel("numerical error of h(1) (relative, vs. tight reference)")
    ax.set_ylabel("NFE forward")
    ax.set_title("(a) NFE vs. error (labels: tolerance)")


def panel_time(ax, sweep: pd.DataFrame) -> None:
    error = [sweep["seconds_median"] - sweep["seconds_min"], sweep["seconds_max"] - sweep["seconds_median"]]
    ax.errorbar(sweep["nfe_forward"], sweep["seconds_median"], yerr=error, fmt="o-", capsize=2)
    ax.set_xlabel("NFE forward")
    ax.set_ylabel("forward time (s, median and range)")
    ax.set_title("(b) NFE vs. time")


def panel_backward(ax, batches: pd.DataFrame) -> float:
    ratio = backward_forward_ratio(batches)
    counts = batches.groupby(["nfe_forward", "nfe_backward"]).size().reset_index(name="batches")
    ax.scatter(counts["nfe_forward"], counts["nfe_backward"], s=12 + 4 * np.sqrt(counts["batches"]),
               alpha=0.6)
    for row in counts.itertuples():  # NFEs are discrete: say how many batches sit on each point
        ax.annotate(str(row.batches), (row.nfe_forward, row.nfe_backward),
                    textcoords="offset points", xytext=(5, -3), fontsize=7)
    limit = max(batches["nfe_forward"].max(), batches["nfe_backward"].max()) * 1.05
    grid = np.linspace(0, limit, 2)
    ax.plot(grid, ratio * grid, "r-", label=f"fit: NFE-B = {ratio:.2f} × NFE-F")
    ax.plot(grid, 0.5 * grid, "k:", label="paper: ½")
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_xlabel("NFE forward (per batch)")
    ax.set_ylabel("NFE backward (per batch)")
    ax.set_title("(c) backward vs. forward NFE (labels: batches)")
    ax.legend(fontsize=7, loc="upper left")
    return ratio


def panel_training(ax, batches: pd.DataFrame) -> pd.DataFrame:
    per_epoch = batches.groupby("epoch")["nfe_forward"].mean().reset_index()
    steps = batches.groupby("epoch")["batch"].transform("max")
    position = batches["epoch"] - 1 + batches["batch"] / steps
    ax.plot(position, batches["nfe_forward"], ".", ms=2, alpha=0.3, label="per batch")
    ax.plot(per_epoch["epoch"] - 0.5, per_epoch["nfe_forward"], "o-", label="epoch mean")
    ax.set_xlabel("training epoch")
    ax.set_ylabel("NFE forward")
    ax.set_title("(d) NFE over training")
    ax.legend(fontsize=7)
    return per_epoch.rename(columns={"nfe_forward": "nfe_forward_mean"})


def figure3(sweep: pd.DataFrame, batches: pd.DataFrame):
    """The 2×2 figure and the tables behind each panel."""
    sweep = sweep.sort_values("tolerance", ascending=False)
    figure, axes = plt.subplots(2, 2, figsize=(9, 7.5))
    panel_error(axes[0, 0], sweep)
    panel_time(axes[0, 1], sweep)
    ratio = panel_backward(axes[1, 0], batches)
    per_epoch = panel_training(axes[1, 1], batches)
    figure.suptitle("Statistics of a trained ODE-Net (cf. Chen et al. 2018, Fig. 3)")
    figure.tight_layout()
    columns = ["tolerance", "nfe_forward", "relative_error", "max_abs_error", "test_error"]
    tables = {
        "a": sweep[[c for c in columns if c in sweep]],
        "b": sweep[["tolerance", "nfe_forward", "seconds_median", "seconds_min", "seconds_max",
                    "repeats"]],
        "c": batches[["epoch", "batch", "nfe_forward", "nfe_backward"]].assign(fitted_ratio=ratio),
        "d": per_epoch,
    }
    return figure, tables, ratio


def figure(inputs: list, *, out) -> list:
    """Figure 3 from [tolerance_sweep.csv, the ODE-Net's batches.csv]: out/figure3.*"""
    from pathlib import Path

    from replication.plots.style import save_figure

    sweep, batches = (pd.read_csv(path) for path in inputs)
    drawn, tables, ratio = figure3(sweep, batches)
    print(f"fitted NFE-B / NFE-F = {ratio:.3f}")
    return save_figure(drawn, Path(out) / "figure3", tables)
