"""Neural ODE Table 1 from classifier runs: one row per model, ours beside the paper's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.collect.labels import memory_method
from replication.collect.paper import TABLE1
from replication.collect.render import write_table
from replication.collect.runs import run_record
from replication.experiments.table1 import EXPERIMENT
from replication.results import write_text
from replication.staleness import STALE_NOTE, stale_record

MODEL_ORDER = ["mlp", "resnet", "rknet", "odenet", "stem", "resnet1"]


def load_runs(metrics_paths: list[Path]) -> pd.DataFrame:
    """One tidy row per run: its metrics plus the provenance fields that identify it."""
    rows, stale = [], []
    for path in metrics_paths:
        record = run_record(path)
        stale.append(stale_record(record, EXPERIMENT))
        record.pop("spec")
        rows.append(record)
    if not rows:
        raise ValueError("no classifier runs given: nothing to tabulate")
    runs = pd.DataFrame(rows)
    unknown = sorted(set(runs["model"]) - set(MODEL_ORDER))
    if unknown:
        raise ValueError(f"runs of models without a Table 1 row: {unknown}")
    runs["stale"] = stale
    return runs.sort_values(["model", "seed"], key=_model_rank).reset_index(drop=True)


def _model_rank(column: pd.Series) -> pd.Series:
    return column.map(MODEL_ORDER.index) if column.name == "model" else column


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Aggregate seeds: mean and standard deviation of every measured column, per model."""
    grouped = runs.groupby("model", sort=False)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        test_error_mean=("test_error", "mean"),
        test_error_std=("test_error", "std"),
        validation_error_mean=("validation_error", "mean"),
        parameters=("parameters", "first"),
        peak_memory_bytes=("peak_memory_bytes", "mean"),
        saved_tensor_bytes=("saved_tensor_bytes", "mean"),
        memory_method=("memory_method", "first"),
        epoch_seconds=("epoch_seconds", "mean"),
        step_seconds=("step_seconds", "mean"),
        images_per_second=("images_per_second", "mean"),
        nfe_forward_per_batch=("nfe_forward_per_batch", "mean"),
        nfe_backward_per_batch=("nfe_backward_per_batch", "mean"),
        nfe_forward_per_epoch=("nfe_forward_per_epoch", "mean"),
        nfe_backward_per_epoch=("nfe_backward_per_epoch", "mean"),
        epochs=("epochs", "max"),
        train_size=("train_size", "first"),
        test_size=("test_size", "first"),
        device=("device", "first"),
        scale=("scale", "first"),
        stale=("stale", "any"),
    ).reset_index()
    summary["test_error_mean"] *= 100
    summary["test_error_std"] *= 100
    summary["validation_error_mean"] *= 100
    for column in ("label", "test_error", "parameters", "memory", "time"):
        summary[f"paper_{column}"] = summary["model"].map(lambda m: getattr(TABLE1[m], column))
    return summary.rename(columns={"paper_label": "label"})


def _error_text(row) -> str:
    if row.n_seeds > 1:
        return f"{row.test_error_mean:.2f} ± {row.test_error_std:.2f}"
    return f"{row.test_error_mean:.2f}"


def _nfe_text(forward: float, backward: float, model: str) -> str:
    if model not in ("rknet", "odenet"):
        return "–"
    return f"{forward:.1f} / {backward:.1f}"


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The human-readable Table 1: ours and the paper's values in adjacent columns."""
    return pd.DataFrame({
        "Model": [f"{r.label} ({STALE_NOTE})" if r.stale else r.label
                  for r in summary.itertuples()],
        "Test error % (ours)": [_error_text(r) for r in summary.itertuples()],
        "Test error % (paper)": summary["paper_test_error"].map(
            lambda v: "–" if pd.isna(v) else f"{v:.2f}"),
        "# Params (ours)": summary["parameters"].map(lambda n: f"{n / 1e6:.3f} M ({n:,})"),
        "# Params (paper)": summary["paper_parameters"].fillna("–"),
        "Peak memory / step (MiB)": summary["peak_memory_bytes"].map(lambda b: f"{b / 2**20:.1f}"),
        "Memory (paper)": summary["paper_memory"],
        "Time / epoch (s)": summary["epoch_seconds"].map(lambda s: f"{s:.3g}"),
        "Time (paper)": summary["paper_time"],
        "NFE-F / NFE-B per batch": [
            _nfe_text(r.nfe_forward_per_batch, r.nfe_backward_per_batch, r.model)
            for r in summary.itertuples()],
    })


def scale_text(summary: pd.DataFrame) -> str:
    """The scale the table was made at, for its title: epochs, training images and seeds."""
    first = summary.iloc[0]
    seeds = "/".join(str(int(n)) for n in sorted(set(summary["n_seeds"])))
    return (f"scale {first.scale}: {int(summary['epochs'].max())} epochs on "
            f"{int(first.train_size):,} images, {seeds} seed(s)")


def table_notes(summary: pd.DataFrame) -> list[str]:
    first = summary.iloc[0]
    methods = sorted({memory_method(code) for code in summary["memory_method"]})
    seeds = ", ".join(str(n) for n in sorted(set(summary["n_seeds"])))
    return [
        f"Scale `{first.scale}` on {first.device}: {int(summary['epochs'].max())} epochs, "
        f"{int(first.train_size):,} training images, test error on {int(first.test_size):,} test "
        f"images at the epoch of lowest validation error; mean ± std over seeds where "
        f"there are several (seeds per model: {seeds}).",
        "Peak memory: bytes allocated during one training step (forward + backward + update, "
        f"batch as trained) above the pre-step baseline, measured with {', '.join(methods)}.",
        "NFE per batch from the last training epoch; NFE-B is 0 for the RK-Net because it "
        "backpropagates through the solver instead of solving the adjoint ODE.",
        "Paper columns: Chen et al. (2018) Table 1; its memory and time columns are asymptotic "
        "only (L = ResNet layers, L̃ = NFE), its MLP row is cited from LeCun et al. (1998).",
    ]


def build_table1(metrics_paths: list[Path], *, runs_csv: Path, prefix: Path) -> pd.DataFrame:
    runs = load_runs(metrics_paths)
    write_text(runs_csv, runs.to_csv(index=False))
    summary = summarise(runs)
    write_table(summary, display_table(summary), prefix,
                title=f"Neural ODE Table 1 (MNIST) — {scale_text(summary)}",
                notes=table_notes(summary))
    return summary


def collect(inputs: list[Path], *, out: Path) -> pd.DataFrame:
    """Table 1 from the jobs' ``metrics.json``: ``out``/table1.{csv,md,tex}, classify/runs.csv."""
    summary = build_table1(inputs, runs_csv=out / "classify" / "runs.csv", prefix=out / "table1")
    print(summary[["model", "n_seeds", "test_error_mean", "parameters"]].to_string(index=False))
    return summary
