"""Neural ODE Table 2 from the spiral jobs: rows = models, columns = n, ours beside the paper's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.collect.paper import table2_paper_rmse
from replication.collect.render import write_table
from replication.collect.runs import run_record
from replication.experiments.table2 import EXPERIMENT
from replication.results import write_text
from replication.staleness import STALE_NOTE, stale_record

MODEL_ORDER = ["rnn", "rnn_dt", "latent_ode"]
LABELS = {"rnn": "RNN", "rnn_dt": "RNN + Δt", "latent_ode": "Latent ODE"}
KEYS = ("model", "n_observed", "seed")
# Measured columns aggregated over seeds (mean and std), as in the jobs' metrics.json.
MEASURED = ("rmse_extrapolation", "rmse_extrapolation_clean", "rmse_reconstruction",
            "rmse_reconstruction_clean", "rmse_window", "rmse_window_clean", "train_seconds",
            "nfe_forward_last", "nfe_backward_last", "nfe_test")
# Settings every seed of a cell shares.
SHARED = ("parameters", "iterations", "train_size", "test_size", "noise_std", "n_window",
          "n_extrapolate", "device", "scale")


def load_runs(metrics_paths: list[Path]) -> pd.DataFrame:
    """One tidy row per job: its metrics plus the provenance fields that identify it."""
    if not metrics_paths:
        raise ValueError("no table2 jobs given: pass the metrics.json of every spiral job")
    rows = []
    for path in metrics_paths:
        if not Path(path).is_file():
            raise ValueError(f"{path}: no such file; run the table2 jobs first "
                             "(snakemake table2, or python -m replication run table2)")
        record = run_record(path)
        missing = [key for key in (*KEYS, "rmse_extrapolation") if key not in record]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)}; is it the metrics.json of "
                             "a table2 job?")
        record["stale"] = stale_record(record, EXPERIMENT)
        record.pop("spec")
        rows.append(record)
    runs = pd.DataFrame(rows)
    unknown = sorted(set(runs["model"]) - set(MODEL_ORDER))
    if unknown:
        raise ValueError(f"runs of models without a Table 2 row: {unknown}; "
                         f"the rows are {', '.join(MODEL_ORDER)}")
    twice = runs.duplicated(list(KEYS))
    if twice.any():
        cells = runs.loc[twice, list(KEYS)].to_dict("records")
        raise ValueError(f"these jobs appear more than once: {cells}")
    runs["model_rank"] = runs["model"].map(MODEL_ORDER.index)
    runs = runs.sort_values(["model_rank", "n_observed", "seed"]).drop(columns="model_rank")
    return runs.reset_index(drop=True)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, n): mean and std over seeds, and the paper's value."""
    grouped = runs.groupby(["model", "n_observed"], sort=False)
    aggregations = {"n_seeds": ("seed", "nunique"), "stale": ("stale", "any")}
    for column in MEASURED:
        if column in runs:
            aggregations[f"{column}_mean"] = (column, "mean")
            aggregations[f"{column}_std"] = (column, "std")
    for column in SHARED:
        if column in runs:
            aggregations[column] = (column, "first")
    summary = grouped.agg(**aggregations).reset_index()
    summary.insert(1, "label", summary["model"].map(LABELS))
    summary["paper_rmse"] = [table2_paper_rmse(m, int(n)) for m, n in
                             zip(summary["model"], summary["n_observed"])]
    return summary


def _cell(mean: float, std: float, seeds: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.4f} ± {std:.4f}" if seeds > 1 and not pd.isna(std) else f"{mean:.4f}"


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows = models, columns = n: ours (mean ± std over seeds) beside the paper's."""
    ns = sorted(summary["n_observed"].unique())
    window = int(summary["n_window"].iloc[0])
    rows = []
    for model in [m for m in MODEL_ORDER if m in set(summary["model"])]:
        cells = summary[summary["model"] == model].set_index("n_observed")
        stale = bool(cells["stale"].any())
        row = {"Model": f"{LABELS[model]} ({STALE_NOTE})" if stale else LABELS[model]}
        for n in ns:
            if n in cells.index:
                cell = cells.loc[n]
                ours = _cell(cell["rmse_extrapolation_mean"], cell["rmse_extrapolation_std"],
                             int(cell["n_seeds"]))
                paper = cell["paper_rmse"]
            else:
                ours, paper = "not run", table2_paper_rmse(model, int(n))
            row[f"{n}/{window} (ours)"] = ours
            row[f"{n}/{window} (paper)"] = "–" if paper is None or pd.isna(paper) else f"{paper:.4f}"
        row["# Params"] = f"{int(cells['parameters'].iloc[0]):,}"
        rows.append(row)
    return pd.DataFrame(rows)


def table_notes(summary: pd.DataFrame) -> list[str]:
    first = summary.iloc[0]
    seeds = ", ".join(str(n) for n in sorted(set(summary["n_seeds"])))
    latent = summary[summary["model"] == "latent_ode"]
    notes = [
        (f"Scale `{first.scale}` on {first.device}: test RMSE of extrapolation (the "
         f"{int(first.n_extrapolate)} points after the window of {int(first.n_window)}) "
         f"against the noisy test points (σ = {first.noise_std:g}), {int(first.train_size)} "
         f"training and {int(first.test_size)} test spirals, {int(first.iterations)} training "
         f"iterations; mean ± std over seeds where there are several (seeds per cell: {seeds})."),
        ("RNN: the plain RNN; RNN + Δt: the time to the next observation concatenated to its "
         "inputs. The paper's RNN row does not say which it is, so its value stands beside both."),
        ("Against the clean trajectories, and for reconstruction (the latent ODE at the observed "
         "points; the RNN's one-step-ahead predictions of points 2…n): see table2.csv."),
    ]
    if not latent.empty and "nfe_forward_last_mean" in latent:
        nfe = ", ".join(f"n = {int(r.n_observed)}: {r.nfe_forward_last_mean:.0f} / "
                        f"{r.nfe_backward_last_mean:.0f}" for r in latent.itertuples())
        notes.append(f"Latent ODE NFE-F / NFE-B per training iteration (the last): {nfe}.")
    notes.append("Paper columns: Chen et al. (2018) Table 2, one number per cell (no seeds, "
                 "no spread).")
    return notes


def build_table2(metrics_paths: list[Path], *, runs_csv: Path, prefix: Path) -> pd.DataFrame:
    runs = load_runs(metrics_paths)
    write_text(runs_csv, runs.to_csv(index=False))
    summary = summarise(runs)
    scale = summary.iloc[0]["scale"]
    write_table(summary, display_table(summary), prefix,
                title=f"Neural ODE Table 2 (predictive RMSE on spirals) — scale {scale}",
                notes=table_notes(summary))
    return summary


def collect(inputs: list[Path], *, out: Path) -> pd.DataFrame:
    """Table 2 from the jobs' ``metrics.json``: ``out``/table2.{csv,md,tex}, spirals/runs.csv."""
    out = Path(out)
    summary = build_table2(inputs, runs_csv=out / "spirals" / "runs.csv", prefix=out / "table2")
    print(summary[["model", "n_observed", "n_seeds", "rmse_extrapolation_mean",
                   "paper_rmse"]].to_string(index=False))
    return summary


__all__ = ["build_table2", "collect", "display_table", "load_runs", "summarise"]
