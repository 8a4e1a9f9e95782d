"""FFJORD's VAE table from VAE runs: rows = flows, columns = datasets, the paper beside ours.

The tidy table (``vae_table.csv``) has one row per (flow, dataset) of the configured grid,
so a cell that was not run is a row that says why, never a missing row.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.collect.labels import memory_method
from replication.collect.paper import VAE_DATASETS, VAE_FLOWS, vae_paper_cell
from replication.collect.render import write_table
from replication.collect.runs import run_record
from replication.experiments.vae_table import EXPERIMENT
from replication.results import write_text
from replication.staleness import STALE_NOTE, stale_record

RUN_STATUS = "run"
EXCLUDED_STATUS = "not run (excluded)"


def load_runs(metrics_paths: list[Path]) -> pd.DataFrame:
    """One tidy row per run: its metrics plus the provenance fields that identify it."""
    rows = []
    for path in metrics_paths:
        record = run_record(path)
        stale = stale_record(record, EXPERIMENT)
        spec = record.pop("spec")
        rows.append({**record, "width": spec.get("model", {}).get("width"), "stale": stale})
    if not rows:
        raise ValueError("no VAE runs given: nothing to tabulate")
    runs = pd.DataFrame(rows)
    for column, known in (("flow", VAE_FLOWS), ("dataset", VAE_DATASETS)):
        unknown = sorted(set(runs[column]) - set(known))
        if unknown:
            raise ValueError(f"runs of {column}s without a VAE table entry: {unknown}")
    return runs.sort_values(["dataset", "flow", "seed"]).reset_index(drop=True)


def summarise(runs: pd.DataFrame, *, datasets: list[str], flows: list[str],
              excluded: list[str]) -> pd.DataFrame:
    """Mean and std over seeds per (flow, dataset); every cell of the grid gets a row."""
    if "is_neg_elbo" not in runs:  # runs of older code did not measure it
        runs = runs.assign(is_neg_elbo=float("nan"))
    grouped = runs.groupby(["flow", "dataset"]).agg(
        n_seeds=("seed", "nunique"),
        neg_elbo_mean=("neg_elbo", "mean"),
        neg_elbo_std=("neg_elbo", "std"),
        nll_mean=("nll", "mean"),
        nll_std=("nll", "std"),
        is_neg_elbo_mean=("is_neg_elbo", "mean"),
        unit=("unit", "first"),
        neg_elbo_nats_mean=("neg_elbo_nats", "mean"),
        nll_nats_mean=("nll_nats", "mean"),
        is_samples=("is_samples", "first"),
        is_test_images=("is_test_images", "first"),
        parameters=("parameters", "first"),
        flow_parameters=("flow_parameters", "first"),
        peak_memory_bytes=("peak_memory_bytes", "mean"),
        saved_tensor_bytes=("saved_tensor_bytes", "mean"),
        memory_method=("memory_method", "first"),
        epoch_seconds=("epoch_seconds", "mean"),
        step_seconds=("step_seconds", "mean"),
        epochs=("epochs", "max"),
        selected_epoch=("selected_epoch", "mean"),
        nfe_forward_per_batch=("nfe_forward_per_batch", "mean"),
        nfe_backward_per_batch=("nfe_backward_per_batch", "mean"),
        train_size=("train_size", "first"),
        test_size=("test_size", "first"),
        width=("width", "first"),
        device=("device", "first"),
        scale=("scale", "first"),
    )
    cells = []
    for flow in flows:
        for dataset in datasets:
            key = (flow, dataset)
            if key in grouped.index:
                row = {"flow": flow, "dataset": dataset, "status": RUN_STATUS,
                       **grouped.loc[key].to_dict()}
            elif dataset in excluded:
                row = {"flow": flow, "dataset": dataset, "status": EXCLUDED_STATUS}
            else:
                raise ValueError(f"no run of flow {flow!r} on dataset {dataset!r}, and the "
                                 "dataset is not excluded: the table would be silently incomplete")
            paper = vae_paper_cell(flow, dataset)
            row["paper_neg_elbo"] = paper.mean if paper else None
            row["paper_neg_elbo_std"] = paper.std if paper else None
            row["flow_label"] = VAE_FLOWS[flow]
            row["dataset_label"] = VAE_DATASETS[dataset]
            cells.append(row)
    return pd.DataFrame(cells)


def scale_text(summary: pd.DataFrame) -> str:
    """The scale the table was made at, for its title: epochs, width and seeds."""
    ran = summary[summary["status"] == RUN_STATUS]
    first = ran.iloc[0]
    seeds = "/".join(str(int(n)) for n in sorted(set(ran["n_seeds"])))
    width = f", width ×{first.width:g}" if pd.notna(first.width) else ""
    return f"scale {first.scale}: ≤ {int(ran['epochs'].max())} epochs{width}, {seeds} seed(s)"


def mark_stale(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """A ``stale`` column: whether any run of a cell was made by older code than the current
    (its recorded code fingerprint is not what its experiment gives for its spec now)."""
    stale = runs
    cells = stale.groupby(["flow", "dataset"])["stale"].any()
    summary = summary.copy()
    summary["stale"] = [bool(cells.get((r.flow, r.dataset), False)) for r in summary.itertuples()]
    return summary


def _value_text(mean: float, std: float, n_seeds: float, unit: str) -> str:
    digits = 2 if unit == "bits/dim" else 1
    if pd.notna(std) and n_seeds > 1:
        return f"{mean:.{digits}f} ± {std:.{digits}f}"
    return f"{mean:.{digits}f}"


def _cell_text(row) -> str:
    if row.status != RUN_STATUS:
        ours = row.status
    elif getattr(row, "stale", False):
        ours = f"{STALE_NOTE}: " + _run_text(row)
    else:
        ours = _run_text(row)
    if pd.isna(row.paper_neg_elbo):
        return f"{ours} [paper –]"
    return f"{ours} [paper {row.paper_neg_elbo:.2f} ± {row.paper_neg_elbo_std:.2f}]"


def _run_text(row) -> str:
    """Our −ELBO, and the NLL beside the −ELBO on the images the NLL was estimated on."""
    nll = _value_text(row.nll_mean, row.nll_std, row.n_seeds, row.unit)
    same = (f"−ELBO {_value_text(row.is_neg_elbo_mean, None, 1, row.unit)}"
            if pd.notna(row.is_neg_elbo_mean) else "−ELBO not measured")
    return (f"{_value_text(row.neg_elbo_mean, row.neg_elbo_std, row.n_seeds, row.unit)}"
            f" (NLL {nll} vs {same} on the same {int(row.is_test_images):,} images)")


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows = flows, columns = datasets; each cell: ours −ELBO (NLL vs −ELBO on the NLL's
    images) [paper −ELBO]."""
    frame = summary.assign(cell=[_cell_text(r) for r in summary.itertuples()])
    table = frame.pivot(index="flow", columns="dataset", values="cell")
    table = table.loc[list(dict.fromkeys(summary["flow"])), list(dict.fromkeys(summary["dataset"]))]
    table.columns = [f"{VAE_DATASETS[d]}{' (bits/dim)' if d == 'freyfaces' else ''}"
                     for d in table.columns]
    table.insert(0, "Flow", [VAE_FLOWS[f] for f in table.index])
    params = frame[frame["status"] == RUN_STATUS].groupby("flow")["flow_parameters"].first()
    table.insert(1, "Flow params", [
        f"{int(params[f]):,}" if f in params.index else "–" for f in table.index])
    return table.reset_index(drop=True)


def _is_settings(dataset: str, rows: pd.DataFrame) -> str:
    """'MNIST 100 samples on 500 images' (the most common setting), then the flows that differ."""
    settings = rows.groupby(["is_samples", "is_test_images"], sort=False)["flow"].agg(list)
    settings = settings.loc[settings.map(len).sort_values(ascending=False, kind="stable").index]
    text = []
    for rank, ((samples, images), flows) in enumerate(settings.items()):
        setting = f"{int(samples):,} samples on {int(images):,} images"
        if rank == 0:
            text.append(f"{dataset} {setting}")
        else:
            text.append(f"{', '.join(VAE_FLOWS.get(f, f) for f in flows)}: {setting}")
    head, others = text[0], text[1:]
    return f"{head} ({'; '.join(others)})" if others else head


def table_notes(summary: pd.DataFrame) -> list[str]:
    ran = summary[summary["status"] == RUN_STATUS]
    first = ran.iloc[0]
    seeds = ", ".join(str(int(n)) for n in sorted(set(ran["n_seeds"])))
    epochs = ", ".join(f"{VAE_DATASETS[d]} {int(e)}" for d, e in
                       ran.groupby("dataset", sort=False)["epochs"].max().items())
    methods = sorted({memory_method(code) for code in ran["memory_method"]})
    samples = ", ".join(_is_settings(VAE_DATASETS[d], rows)
                        for d, rows in ran.groupby("dataset", sort=False))
    notes = [
        f"Scale `{first.scale}` on {first.device}, encoder/decoder width ×{first.width:g} of Berg "
        f"et al.'s (1 = the papers'), at most {epochs} epochs; test −ELBO of the epoch with the "
        f"lowest validation −ELBO, mean ± std over seeds where there are several (seeds per "
        f"cell: {seeds}). Nats per image; Frey Faces in bits per dimension.",
        f"NLL: importance-sampled −log p(x) ({samples}: the first test images), shown beside "
        "the −ELBO on those same images (NLL ≤ −ELBO there); the first value of a cell is the "
        "−ELBO over the whole test set. FFJORD's paper reports −ELBO only.",
        "Paper: FFJORD Table 3 (baselines from Berg et al. 2018); its Sylvester row is the best "
        "of the three Sylvester variants, so all three of ours sit beside it.",
        f"Parameters, peak memory of a training step ({', '.join(methods)}), time per epoch and "
        "NFE per cell are in vae_table.csv.",
    ]
    if (summary["status"] != RUN_STATUS).any():
        missing = sorted(set(summary.loc[summary["status"] != RUN_STATUS, "dataset"]))
        notes.append(f"Not run (excluded by the `exclude_datasets` setting): "
                     f"{', '.join(VAE_DATASETS[d] for d in missing)}.")
    return notes


def build_vae_table(metrics_paths: list[Path], *, runs_csv: Path, prefix: Path,
                    datasets: list[str], flows: list[str], excluded: list[str]) -> pd.DataFrame:
    runs = load_runs(metrics_paths)
    write_text(runs_csv, runs.to_csv(index=False))
    unknown = sorted(set(datasets) - set(VAE_DATASETS)) + sorted(set(flows) - set(VAE_FLOWS))
    if unknown:
        raise ValueError(f"no VAE table entry for {unknown}; known datasets: "
                         f"{list(VAE_DATASETS)}, flows: {list(VAE_FLOWS)}")
    # rows and columns in the paper's order, whatever order they were given in
    datasets = [name for name in VAE_DATASETS if name in datasets]
    flows = [name for name in VAE_FLOWS if name in flows]
    summary = summarise(runs, datasets=datasets, flows=flows, excluded=excluded)
    summary = mark_stale(summary, runs)
    write_table(summary, display_table(summary), prefix,
                title=f"FFJORD VAE table: test −ELBO (NLL) [paper −ELBO] — {scale_text(summary)}",
                notes=table_notes(summary))
    return summary


def collect(inputs: list[Path], *, out: Path, datasets: list[str], flows: list[str],
            excluded: list[str]) -> pd.DataFrame:
    """The VAE table from the jobs' ``metrics.json``: out/vae_table.{csv,md,tex}, vae/runs.csv.

    *datasets* and *flows* are the table's columns and rows (in the paper's order whatever
    their order here); *excluded* datasets were left out on purpose (their cells say so).
    """
    summary = build_vae_table(inputs, runs_csv=out / "vae" / "runs.csv",
                              prefix=out / "vae_table", datasets=datasets, flows=flows,
                              excluded=excluded)
    print(summary[["flow", "dataset", "status", "neg_elbo_mean", "paper_neg_elbo"]]
          .to_string(index=False))
    return summary
