"""Exact trace vs Hutchinson: seconds per function evaluation and estimator noise against D.

Three panels from a trace-cost job's ``points.csv`` (never recomputed):

1. seconds per function evaluation of f, f + Hutchinson (1 vjp) and f + exact trace (D vjps;
   the batched version too where measured), log-log, with the slopes fitted over D ≥
   ``fit_min_dim`` in the legend and dotted reference lines ∝ D and ∝ D²;
2. the exact-to-Hutchinson cost ratio (∝ D when both are in their asymptotic regime);
3. the estimator's relative standard deviation sqrt(Var) / RMS(tr) for Gaussian and
   Rademacher ε: analytic (from the full Jacobian) as lines, empirical as markers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from replication.experiments.trace_cost.run import fit_slopes
from replication.plots.inputs import read_table
from replication.plots.style import plt, save_figure

REQUIRED_COLUMNS = ("dim", "f_seconds", "hutchinson_seconds", "exact_seconds", "trace_rms",
                    "var_gaussian_empirical", "var_gaussian_analytic",
                    "var_rademacher_empirical", "var_rademacher_analytic")
STYLE = {  # method: (label, colour, marker)
    "f": ("f alone", "tab:gray", "o"),
    "hutchinson": ("f + Hutchinson (1 vjp)", "tab:blue", "s"),
    "exact": ("f + exact trace (D vjps, loop)", "tab:red", "^"),
    "exact_vectorized": ("f + exact trace (D vjps, batched)", "tab:orange", "v"),
}
NOISE = {"gaussian": ("Gaussian ε", "tab:purple", "o"),
         "rademacher": ("Rademacher ε", "tab:green", "s")}


def read_points(points_csv: Path) -> pd.DataFrame:
    """The points table, checked for every column the figure needs."""
    points = read_table(points_csv, REQUIRED_COLUMNS, hint="run `python -m replication run trace_cost`")
    return points.sort_values("dim").reset_index(drop=True)


def _fit_min_dim(points_csv: Path, fit_min_dim: int | None) -> int:
    """The explicit value, else the job's own (its ``metrics.json``, beside the points)."""
    if fit_min_dim is not None:
        return int(fit_min_dim)
    metrics = Path(points_csv).with_name("metrics.json")
    recorded = json.loads(metrics.read_text()).get("fit_min_dim") if metrics.is_file() else None
    if recorded is None:
        raise ValueError(f"{points_csv}: no fit_min_dim recorded in {metrics}; pass fit_min_dim, "
                         "or plot the points of a complete trace_cost job")
    return int(recorded)


def fits_table(points: pd.DataFrame, *, min_dim: int) -> pd.DataFrame:
    """One row per method: fitted log-log slope of seconds vs D and the range it covers."""
    fits = fit_slopes(points, min_dim=min_dim)
    return pd.DataFrame([{"method": method, **fit} for method, fit in fits.items()],
                        columns=["method", "slope", "model_slope", "intercept", "min_dim",
                                 "max_dim", "points"])


def _reference_line(axis, dims: np.ndarray, anchor_dim: float, anchor_seconds: float,
                    power: int, label: str) -> None:
    axis.plot(dims, anchor_seconds * (dims / anchor_dim) ** power, ":", color="black",
              alpha=0.4 if power == 1 else 0.7, linewidth=1, label=label)


def trace_cost_figure(points_csv: Path, *, prefix: Path,
                      fit_min_dim: int | None = None) -> list[Path]:
    """Draw the figure from ``points_csv``; write ``prefix``.png/.pdf/.csv and ``_fits.csv``.

    ``fit_min_dim`` (slopes fitted over D ≥ it) defaults to the value in the job's
    ``metrics.json`` beside ``points_csv``, else to 64.
    """
    points = read_points(points_csv)
    min_dim = _fit_min_dim(points_csv, fit_min_dim)
    fits = fits_table(points, min_dim=min_dim)
    slopes = dict(zip(fits["method"], fits["slope"]))
    model_slopes = dict(zip(fits["method"], fits["model_slope"]))
    dims = points["dim"].to_numpy(dtype=float)

    figure, (cost_ax, ratio_ax, noise_ax) = plt.subplots(1, 3, figsize=(15, 4.2))
    for method, (label, colour, marker) in STYLE.items():
        column = f"{method}_seconds"
        if column not in points or not np.isfinite(points[column]).any():
            continue
        shown = points[np.isfinite(points[column])]
        slope, model = slopes.get(method), model_slopes.get(method)
        suffix = (f" — slope {slope:.2f} (FLOP model {model:.2f})" if slope is not None
                  else "")
        cost_ax.plot(shown["dim"], shown[column], marker=marker, color=colour,
                     label=label + suffix)
    last = points.iloc[-1]
    fitted = dims[dims >= min_dim] if (dims >= min_dim).sum() >= 2 else dims
    _reference_line(cost_ax, fitted, last["dim"], last["hutchinson_seconds"], 1, "∝ D")
    _reference_line(cost_ax, fitted, last["dim"], last["exact_seconds"], 2, "∝ D²")
    cost_ax.set_xscale("log", base=2)
    cost_ax.set_yscale("log")
    cost_ax.set_xlabel("dimension D")
    cost_ax.set_ylabel("seconds per function evaluation (median)")
    hidden = f"H = {int(points['hidden'].iloc[0])}, " if "hidden" in points else ""
    batch = f"batch {int(points['batch_size'].iloc[0])}" if "batch_size" in points else ""
    cost_ax.set_title(f"Cost of the trace ({hidden}{batch}; slopes over D ≥ {min_dim})",
                      fontsize=9)
    cost_ax.legend(fontsize=7)

    ratio = points["exact_seconds"] / points["hutchinson_seconds"]
    ratio_ax.plot(points["dim"], ratio, "o-", color="tab:red", label="measured")
    ratio_ax.plot(dims, ratio.iloc[-1] * dims / dims[-1], ":", color="black", alpha=0.5,
                  label="∝ D")
    ratio_ax.set_xscale("log", base=2)
    ratio_ax.set_yscale("log")
    ratio_ax.set_xlabel("dimension D")
    ratio_ax.set_ylabel("exact / Hutchinson time per evaluation")
    ratio_ax.set_title("What the exact trace costs extra", fontsize=9)
    ratio_ax.legend(fontsize=7)

    for kind, (label, colour, marker) in NOISE.items():
        rms = points["trace_rms"]
        noise_ax.plot(points["dim"], np.sqrt(points[f"var_{kind}_analytic"]) / rms, "-",
                      color=colour, label=f"{label}, analytic")
        noise_ax.plot(points["dim"], np.sqrt(points[f"var_{kind}_empirical"]) / rms, marker,
                      color=colour, fillstyle="none", linestyle="none",
                      label=f"{label}, empirical")
    noise_ax.set_xscale("log", base=2)
    noise_ax.set_yscale("log")
    noise_ax.set_xlabel("dimension D")
    noise_ax.set_ylabel("sqrt(Var[εᵀJε]) / RMS tr(J)")
    draws = (f" ({int(points['variance_draws'].iloc[0])} draws)"
             if "variance_draws" in points else "")
    noise_ax.set_title(f"Hutchinson estimator's relative noise, one draw{draws}", fontsize=9)
    noise_ax.legend(fontsize=7)

    figure.tight_layout()
    return save_figure(figure, prefix, {"": points, "_fits": fits})


__all__ = ["fits_table", "read_points", "trace_cost_figure"]


def figure(inputs: list, *, out) -> list[Path]:
    """The trace-cost figure from [points.csv]: out/ffjord_trace_cost.*"""
    return trace_cost_figure(Path(inputs[0]), prefix=Path(out) / "ffjord_trace_cost")
