"""Peak memory and time of a training step against depth, with fitted slopes."""
from __future__ import annotations

import numpy as np
import pandas as pd

from replication.collect.labels import memory_method
from replication.collect.paper import memory_constant_fraction
from replication.plots.style import plt

LABELS = {
    "resnet": "ResNet (L residual blocks)",
    "rknet": "RK-Net (backprop through L solver steps)",
    "adjoint": "ODE-Net (adjoint, same L solver steps)",
}


def fit_slopes(points: pd.DataFrame) -> pd.DataFrame:
    """Least-squares line of peak memory and step time against depth, per variant.

    The verdict compares the adjoint's memory slope with the RK-Net's by the claims
    registry's rule (claim node.memory.constant, :func:`memory_constant_fraction`): the
    paper's O(1)-memory claim holds when it is at most that fraction of the RK-Net's.
    """
    rows = []
    for variant, group in points.groupby("variant", sort=False):
        memory_slope, memory_intercept = np.polyfit(group["depth"], group["peak_memory_bytes"], 1)
        time_slope, _ = np.polyfit(group["depth"], group["step_seconds_median"], 1)
        rows.append({"variant": variant, "memory_bytes_per_step": memory_slope,
                     "memory_intercept_bytes": memory_intercept, "seconds_per_step": time_slope,
                     "depths": f"{group['depth'].min()}..{group['depth'].max()}",
                     "memory_method": group["memory_method"].iloc[0]})
    fits = pd.DataFrame(rows)
    slope = fits.set_index("variant")["memory_bytes_per_step"]
    if {"adjoint", "rknet"} <= set(slope.index):
        ratio = slope["adjoint"] / slope["rknet"]
        fits["adjoint_to_rknet_slope"] = ratio
        fits["verdict"] = ("adjoint memory is constant in depth"
                           if abs(ratio) <= memory_constant_fraction()
                           else "adjoint memory grows with depth")
    return fits


def memory_figure(points: pd.DataFrame):
    fits = fit_slopes(points)
    slopes = fits.set_index("variant")["memory_bytes_per_step"]
    figure, (memory_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for variant, group in points.groupby("variant", sort=False):
        label = f"{LABELS.get(variant, variant)}: {slopes[variant] / 2**20:+.2f} MiB/step"
        memory_ax.plot(group["depth"], group["peak_memory_bytes"] / 2**20, "o-", label=label)
        time_ax.plot(group["depth"], group["step_seconds_median"], "o-", label=LABELS.get(variant))
    memory_ax.set_xlabel("depth L (blocks or solver steps)")
    memory_ax.set_ylabel("peak memory of a training step (MiB)")
    memory_ax.set_title(f"Memory vs. depth ({memory_method(points['memory_method'].iloc[0])})",
                        fontsize=9)
    memory_ax.legend(fontsize=7)
    time_ax.set_xlabel("depth L (blocks or solver steps)")
    time_ax.set_ylabel("time of a training step (s, median)")
    time_ax.set_title("Time vs. depth", fontsize=9)
    if "verdict" in fits:
        figure.suptitle(f"{fits['verdict'].iloc[0]} (adjoint slope = "
                        f"{abs(fits['adjoint_to_rknet_slope'].iloc[0]):.2%} of RK-Net's)", fontsize=10)
    figure.tight_layout()
    return figure, {"": points, "_fits": fits}, fits


def figure(inputs: list, *, out) -> list:
    """The memory figure from [points.csv]: out/memory_depth.* (and its fitted slopes)."""
    from pathlib import Path

    from replication.plots.style import save_figure

    drawn, tables, fits = memory_figure(pd.read_csv(inputs[0]))
    print(fits.to_string(index=False))
    return save_figure(drawn, Path(out) / "memory_depth", tables)
