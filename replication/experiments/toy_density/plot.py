"""FFJORD Figure 2 style: data, learned density and model samples of 2-D toy CNFs.

One row per run (dataset): a 2-D histogram of data samples | the learned density
exp(log p) on the run's evaluation grid | a 2-D histogram of model samples. Titles carry the
dataset, the held-out log-likelihood (nats) and the NFE of a test-set solve. The figure is a
function of the runs' result files only (``metrics.json``, ``data.csv``, ``density.csv``,
``samples.csv``); it never trains anything.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from replication.plots.inputs import read_table
from replication.plots.style import plt, save_figure

METRICS = ("dataset", "test_log_likelihood_nats", "grid_mass", "nfe_forward", "test_nfe_forward",
           "parameters", "iterations")
# The mass over a square wide enough to hold all but 1e-3 of it (replication.experiments.toy_density.run):
# copied into the summary when the run measured it (runs of older code did not).
WIDE_MASS = ("mass_limit", "wide_grid_mass", "mass_outside")
COLUMNS = {"data.csv": ("x", "y"), "samples.csv": ("x", "y"),
           "density.csv": ("x", "y", "log_density")}


def _read_metrics(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"toy density figure: missing result file {path}")
    metrics = json.loads(path.read_text())
    missing = [key for key in METRICS if key not in metrics]
    if missing:
        raise ValueError(f"toy density figure: {path} lacks key(s) {', '.join(missing)}")
    return metrics


def density_image(density: pd.DataFrame, *, source: Path) -> tuple[np.ndarray, list[float]]:
    """exp(log p) as an image (rows = y, columns = x) and its extent for ``imshow``."""
    xs, ys = np.unique(density["x"]), np.unique(density["y"])
    if len(xs) * len(ys) != len(density):
        raise ValueError(f"toy density figure: {source} is not a full grid "
                         f"({len(xs)} x-values × {len(ys)} y-values ≠ {len(density)} rows)")
    table = density.pivot(index="y", columns="x", values="log_density").sort_index()
    image = np.exp(table.to_numpy())
    half_x = (xs[1] - xs[0]) / 2 if len(xs) > 1 else 0.5
    half_y = (ys[1] - ys[0]) / 2 if len(ys) > 1 else 0.5
    return image, [xs[0] - half_x, xs[-1] + half_x, ys[0] - half_y, ys[-1] + half_y]


def _histogram(ax, points: pd.DataFrame, extent: list[float], bins: int = 100) -> None:
    """A 2-D histogram drawn as an image (much lighter in a PDF than ``hist2d``'s mesh)."""
    counts, _, _ = np.histogram2d(points["x"], points["y"], bins=bins,
                                  range=[extent[:2], extent[2:]])
    ax.imshow(counts.T, origin="lower", extent=extent, cmap="magma", aspect="auto")


def load_run(run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    metrics = _read_metrics(run_dir / "metrics.json")
    tables = {name: read_table(run_dir / name, columns) for name, columns in COLUMNS.items()}
    return {"metrics": metrics, **tables, "dir": run_dir}


def toy_density_figure(run_dirs: list[Path], *, prefix: Path) -> list[Path]:
    """Write ``prefix.png/.pdf``, ``prefix.csv`` (one row per run) and ``prefix_density.csv``."""
    if not run_dirs:
        raise ValueError("toy density figure: no run folders given")
    runs = [load_run(run_dir) for run_dir in run_dirs]
    figure, axes = plt.subplots(len(runs), 3, figsize=(9, 3 * len(runs)), squeeze=False)
    summary, densities = [], []
    for row, run in zip(axes, runs):
        metrics = run["metrics"]
        image, extent = density_image(run["density.csv"], source=run["dir"] / "density.csv")
        name = metrics["dataset"]
        _histogram(row[0], run["data.csv"], extent)
        row[0].set_title(f"{name}: data", fontsize=9)
        row[1].imshow(image, origin="lower", extent=extent, cmap="magma", aspect="auto")
        row[1].set_title(f"model density: test log p {metrics['test_log_likelihood_nats']:.3f} "
                         f"nats,\nmass on the grid {metrics['grid_mass']:.4f}, "
                         f"NFE {metrics['test_nfe_forward']:.0f} "
                         f"(training: F {metrics['nfe_forward']})", fontsize=9)
        _histogram(row[2], run["samples.csv"], extent)
        row[2].set_title(f"{name}: model samples", fontsize=9)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
        summary.append({key: metrics[key] for key in METRICS + WIDE_MASS if key in metrics})
        densities.append(run["density.csv"][["x", "y", "log_density"]].assign(dataset=name))
    figure.tight_layout()
    long_density = pd.concat(densities, ignore_index=True)[["dataset", "x", "y", "log_density"]]
    return save_figure(figure, Path(prefix),
                       {"": pd.DataFrame(summary), "_density": long_density})


def figure(inputs: list, *, out) -> list[Path]:
    """Figure 2 from the jobs' metrics.json (their folders hold the rest): out/ffjord_toy_densities.*"""
    return toy_density_figure([Path(path).parent for path in inputs],
                              prefix=Path(out) / "ffjord_toy_densities")
