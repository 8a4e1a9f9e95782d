"""Neural ODE Figure 8 from the n = 30 spiral jobs: reconstruction and extrapolation of one test
spiral of each direction by every model (a: the RNNs, b: the latent ODE), and (c) the latent
ODE's latent trajectories of the test spirals, projected to 2-D, coloured by direction."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from replication.experiments.table2.table import LABELS, MODEL_ORDER
from replication.plots.inputs import read_table
from replication.plots.style import plt, save_figure

PREDICTION_COLUMNS = ("model", "n_observed", "spiral", "direction", "index", "t", "part",
                      "observed", "x_clean", "y_clean", "x_noisy", "y_noisy", "x_predicted",
                      "y_predicted")
LATENT_COLUMNS = ("spiral", "direction", "index", "t")
DIRECTIONS = {1: "counter-clockwise", -1: "clockwise"}
COLOURS = {1: "tab:blue", -1: "tab:red"}
HINT = "run the table2 jobs at n = 30 first (snakemake table2)"


def read_inputs(inputs: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions of every model, the latent ODE's latent paths) from the jobs' files."""
    predictions, latent = [], []
    for path in map(Path, inputs):
        if path.name == "latent.csv":
            latent.append(read_table(path, LATENT_COLUMNS, hint=HINT))
        elif path.name == "predictions.csv":
            predictions.append(read_table(path, PREDICTION_COLUMNS, hint=HINT))
        else:
            raise ValueError(f"{path}: not a table2 job's predictions.csv or latent.csv")
    if len(latent) != 1 or not predictions:
        raise ValueError(f"Figure 8 needs the predictions.csv of each model and the latent "
                         f"ODE's latent.csv; got {len(predictions)} predictions.csv and "
                         f"{len(latent)} latent.csv")
    table = pd.concat(predictions, ignore_index=True)
    unknown = sorted(set(table["model"]) - set(MODEL_ORDER))
    if unknown:
        raise ValueError(f"predictions of models without a Figure 8 panel: {unknown}")
    if table.duplicated(["model", "spiral", "index"]).any():
        raise ValueError("a model's predictions.csv is given more than once")
    if table["n_observed"].nunique() != 1:
        raise ValueError(f"Figure 8 shows one n; the predictions have n = "
                         f"{sorted(table['n_observed'].unique())}")
    return table, latent[0]


def shown_spirals(table: pd.DataFrame) -> dict[int, int]:
    """{direction: spiral}: the first test spiral of each direction that every model predicted."""
    counts = table.groupby("spiral")["model"].nunique()
    common = table[table["spiral"].isin(counts[counts == table["model"].nunique()].index)]
    first = common.sort_values("spiral").groupby("direction")["spiral"].first()
    return {int(direction): int(spiral) for direction, spiral in first.items()}


def project(latent: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The latent paths on their first two principal components (and the variance fractions)."""
    columns = [c for c in latent.columns if c.startswith("z")]
    if len(columns) < 2:
        raise ValueError(f"latent.csv has {len(columns)} latent column(s) (z1, z2, …): need 2")
    z = latent[columns].to_numpy(float)
    centred = z - z.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ vt[:2].T
    projected = latent[list(LATENT_COLUMNS)].copy()
    projected["pc1"], projected["pc2"] = coordinates[:, 0], coordinates[:, 1]
    variance = singular**2 / (singular**2).sum()
    projected["pc1_variance"], projected["pc2_variance"] = variance[0], variance[1]
    return projected, variance[:2]


def _spiral_panel(ax, rows: pd.DataFrame, *, title: str) -> None:
    window = rows[rows["part"] == "window"]
    future = rows[rows["part"] == "extrapolation"]
    ax.plot(rows["x_clean"], rows["y_clean"], color="0.75", lw=1, label="true trajectory")
    seen = window[window["observed"]]
    ax.plot(seen["x_noisy"], seen["y_noisy"], "k.", ms=4, label="observed points")
    ax.plot(future["x_noisy"], future["y_noisy"], ".", color="0.6", ms=2,
            label="extrapolation target")
    have = window.dropna(subset=["x_predicted"])
    ax.plot(have["x_predicted"], have["y_predicted"], "-", color="tab:green", lw=1.5,
            marker="." if len(have) < len(window) else None, ms=3, label="reconstruction")
    ax.plot(future["x_predicted"], future["y_predicted"], "--", color="tab:purple", lw=1.5,
            label="extrapolation")
    ax.set_title(title, fontsize=9)
    # The truth's extent with a margin: a prediction that runs off stays off the panel's edge
    # instead of shrinking the spiral (its numbers are in the CSV).
    for limits, column in ((ax.set_xlim, "x_clean"), (ax.set_ylim, "y_clean")):
        low, high = rows[column].min(), rows[column].max()
        margin = 0.25 * (high - low)
        limits(low - margin, high + margin)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)


def figure8(table: pd.DataFrame, latent: pd.DataFrame, *, prefix: Path) -> list[Path]:
    models = [m for m in MODEL_ORDER if m in set(table["model"])]
    spirals = shown_spirals(table)
    if not spirals:
        raise ValueError("no test spiral was predicted by every model")
    n = int(table["n_observed"].iloc[0])
    figure = plt.figure(figsize=(4 * (len(models) + 1), 3.6 * len(spirals)))
    grid = figure.add_gridspec(len(spirals), len(models) + 1)
    shown = []
    for row, (direction, spiral) in enumerate(sorted(spirals.items(), reverse=True)):
        for column, model in enumerate(models):
            rows = table[(table["model"] == model) & (table["spiral"] == spiral)]
            rows = rows.sort_values("index")
            ax = figure.add_subplot(grid[row, column])
            letter = "b" if model == "latent_ode" else "a"
            _spiral_panel(ax, rows, title=f"({letter}) {LABELS[model]}, test spiral {spiral} "
                                          f"({DIRECTIONS[direction]})")
            shown.append(rows.assign(panel=f"({letter}) {LABELS[model]}, "
                                           f"{DIRECTIONS[direction]}"))
            if row == 0 and column == 0:
                ax.legend(fontsize=7, loc="best")
    projected, variance = project(latent)
    ax = figure.add_subplot(grid[:, len(models)])
    for (direction, spiral), path in projected.sort_values("index").groupby(["direction",
                                                                             "spiral"]):
        ax.plot(path["pc1"], path["pc2"], color=COLOURS[int(direction)], lw=0.8, alpha=0.7)
        ax.plot(path["pc1"].iloc[0], path["pc2"].iloc[0], "o", color=COLOURS[int(direction)],
                ms=2)
    for direction, label in DIRECTIONS.items():
        ax.plot([], [], color=COLOURS[direction], label=label)
    ax.legend(fontsize=7, title="direction", title_fontsize=7)
    ax.set_xlabel(f"latent PC 1 ({variance[0]:.0%} of variance)")
    ax.set_ylabel(f"latent PC 2 ({variance[1]:.0%} of variance)")
    ax.set_title(f"(c) latent trajectories of {projected['spiral'].nunique()} test spirals "
                 "(dot: t₀)", fontsize=9)
    figure.suptitle(f"Neural ODE Figure 8: spirals with {n} irregularly sampled points")
    return save_figure(figure, prefix, {"_predictions": pd.concat(shown, ignore_index=True),
                                        "_latent": projected})


def figure(inputs: list, *, out) -> list[Path]:
    """Figure 8 from the n = 30 jobs' predictions.csv and latent.csv: out/table2_figure8.*"""
    table, latent = read_inputs(inputs)
    return figure8(table, latent, prefix=Path(out) / "table2_figure8")


__all__ = ["figure", "figure8", "project", "read_inputs", "shown_spirals"]
