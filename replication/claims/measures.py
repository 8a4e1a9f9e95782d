"""Measure functions: how the registry's numeric claims read their measured value from results.

A claim in ``claims.yaml`` names one of :data:`MEASURES` with keyword arguments, e.g.
``measure: {function: table1, args: {model: odenet, quantity: test_error}}``. Each function gets
a :class:`Context` (the results and figures folders of one scale) and returns a
:class:`Measurement`. A missing file or row raises :class:`NotRun` (the verdict is "not run", with
the reason); a file without an expected column raises :class:`MalformedInput` (also "not run",
and the command warns). File and column names come from :mod:`replication.claims.sources` only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from replication.claims import sources as S


class NotRun(Exception):
    """The experiment behind a claim has not produced what the claim needs."""


class MalformedInput(NotRun):
    """An input exists but lacks what the mapping in :mod:`replication.claims.sources` expects."""


@dataclass
class Measurement:
    """A measured value (mean, std over n seeds), or a series for a monotonic claim."""

    value: float | None = None
    std: float | None = None
    n: int | None = None
    text: str | None = None  # how to show it, when not just value ± std
    detail: str = ""  # one clause appended to the verdict's reason
    reference: float | None = None  # slope_zero: the slope it is compared with
    reference_label: str = ""
    x: list[float] = field(default_factory=list)  # monotonic: the series, in x order
    y: list[float] = field(default_factory=list)


@dataclass
class Context:
    """The folders one scale's verdicts read: ``results/<scale>`` and ``figures/<scale>``."""

    results: Path
    figures: Path
    scale: str
    _tables: dict = field(default_factory=dict, repr=False)

    def root(self, name: str) -> Path:
        if name not in ("results", "figures"):
            raise ValueError(f"unknown root {name!r}: use 'results' or 'figures'")
        return Path(self.results if name == "results" else self.figures)

    def resolve(self, template: str) -> Path:
        """``{results}/x.csv`` or ``{figures}/x.csv`` -> a path."""
        return Path(template.format(results=self.results, figures=self.figures))

    def path(self, root: str, relative: str) -> Path:
        path = self.root(root) / relative
        if not path.is_file():
            raise NotRun(f"{path} is missing")
        return path

    def csv(self, root: str, relative: str) -> pd.DataFrame:
        path = self.path(root, relative)
        if path not in self._tables:
            self._tables[path] = pd.read_csv(path)
        return self._tables[path]


def require_columns(table: pd.DataFrame, columns, where: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise MalformedInput(
            f"malformed input: {where} has no column {', '.join(map(repr, missing))}"
            f" (it has {', '.join(map(str, table.columns))}); "
            "adjust replication/claims/sources.py"
        )


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


# --- Neural ODE Table 1 -------------------------------------------------------------------------


def _table1_row(ctx: Context, model: str) -> pd.Series:
    table = ctx.csv("results", S.TABLE1_FILE)
    require_columns(table, [S.TABLE1_KEY], S.TABLE1_FILE)
    rows = table[table[S.TABLE1_KEY] == model]
    if rows.empty:
        raise NotRun(f"{S.TABLE1_FILE} has no row for model {model!r}")
    return rows.iloc[0]


def _table1_quantity(ctx: Context, model: str, quantity: str) -> Measurement:
    mean_column, std_column, factor, _unit = S.TABLE1_QUANTITIES[quantity]
    table = ctx.csv("results", S.TABLE1_FILE)
    require_columns(table, [mean_column] + ([std_column] if std_column else []), S.TABLE1_FILE)
    row = _table1_row(ctx, model)
    value = _number(row[mean_column])
    if value is None:
        raise NotRun(f"{S.TABLE1_FILE}: no {mean_column} for model {model!r}")
    std = _number(row[std_column]) if std_column else None
    n = int(row[S.TABLE1_SEEDS]) if S.TABLE1_SEEDS in row and _number(row[S.TABLE1_SEEDS]) else None
    text = f"{value * factor:.3f} M ({value:,.0f})" if quantity == "parameters_millions" else None
    return Measurement(
        value=value * factor, std=None if std is None else std * factor, n=n, text=text
    )


def table1(ctx: Context, *, model: str, quantity: str) -> Measurement:
    """One model's value in Table 1: test_error (%), parameters_millions, peak_memory_mib, ..."""
    return _table1_quantity(ctx, model, quantity)


def table1_ratio(ctx: Context, *, numerator: str, denominator: str, quantity: str) -> Measurement:
    """``quantity`` of model *numerator* divided by that of model *denominator*."""
    top, bottom = (_table1_quantity(ctx, m, quantity) for m in (numerator, denominator))
    ratio = top.value / bottom.value
    return Measurement(
        value=ratio,
        n=min(filter(None, [top.n, bottom.n]), default=None),
        text=f"{ratio:.2f} ({numerator} {_fmt(top.value)} / {denominator} "
        f"{_fmt(bottom.value)} {S.TABLE1_QUANTITIES[quantity][3]})",
    )


def table1_difference(ctx: Context, *, minuend: str, subtrahend: str, quantity: str) -> Measurement:
    """``quantity`` of model *minuend* minus that of model *subtrahend* (e.g. error points)."""
    first, second = (_table1_quantity(ctx, m, quantity) for m in (minuend, subtrahend))
    difference = first.value - second.value
    stds = [s for s in (first.std, second.std) if s is not None]
    unit = S.TABLE1_QUANTITIES[quantity][3]
    unit = "points" if unit == "%" else unit
    return Measurement(
        value=difference,
        std=math.sqrt(sum(s * s for s in stds)) if stds else None,
        n=min(filter(None, [first.n, second.n]), default=None),
        text=f"{difference:+.2f} {unit} ({minuend} {_fmt(first.value)} − {subtrahend} "
        f"{_fmt(second.value)})",
    )


# --- Neural ODE Table 2 -------------------------------------------------------------------------


def _table2_cell(ctx: Context, model: str, n: int) -> tuple[pd.Series, str]:
    """The row of the paper's (model, n) cell and our model it is: for a paper row with several
    of our models (the RNN: plain and with Δt), the one with the lowest mean RMSE at n. Every
    one of them must have a result at n (a missing one is "not run", never skipped)."""
    if model not in S.TABLE2_MODELS:
        raise ValueError(f"unknown Table 2 row {model!r}; known: {', '.join(S.TABLE2_MODELS)}")
    columns = S.TABLE2_COLUMNS
    table = ctx.csv("results", S.TABLE2_FILE)
    require_columns(table, [columns["model"], columns["n"], columns["mean"]], S.TABLE2_FILE)
    rows = []
    for ours in S.TABLE2_MODELS[model]:
        found = table[(table[columns["model"]] == ours) & (table[columns["n"]] == n)]
        found = found[found[columns["mean"]].notna()]
        if found.empty:
            raise NotRun(f"{S.TABLE2_FILE} has no RMSE for model {ours!r} at n = {n}")
        rows.append(found.iloc[0])
    best = min(rows, key=lambda row: float(row[columns["mean"]]))
    return best, str(best[columns["model"]])


def _table2_measurement(row: pd.Series) -> Measurement:
    columns = S.TABLE2_COLUMNS
    n_seeds = _number(row.get(columns["n_seeds"])) if columns["n_seeds"] in row else None
    return Measurement(
        value=float(row[columns["mean"]]),
        std=_number(row.get(columns["std"])) if columns["std"] in row else None,
        n=int(n_seeds) if n_seeds else None,
    )


def table2(ctx: Context, *, model: str, n: int) -> Measurement:
    """Our test RMSE of extrapolation for the paper's Table 2 cell (row *model*, column *n*),
    mean ± std over seeds; the RNN row is the better of our two RNN versions at n."""
    row, chosen = _table2_cell(ctx, model, n)
    measurement = _table2_measurement(row)
    if len(S.TABLE2_MODELS[model]) > 1:
        measurement.detail = f"better of {', '.join(S.TABLE2_MODELS[model])} at n = {n}: {chosen}"
    return measurement


# --- Figure 3 and the tolerance sweep ------------------------------------------------------------


def nfe_backward_forward_ratio(ctx: Context) -> Measurement:
    """Figure 3c: NFE-B / NFE-F over the adjoint run's training batches (fit through the origin)."""
    table = ctx.csv("figures", S.FIGURE3C_FILE)
    require_columns(table, [S.FIGURE3C_FORWARD, S.FIGURE3C_BACKWARD], S.FIGURE3C_FILE)
    if table.empty:
        raise NotRun(f"{S.FIGURE3C_FILE} has no batches")
    forward = table[S.FIGURE3C_FORWARD].to_numpy(float)
    backward = table[S.FIGURE3C_BACKWARD].to_numpy(float)
    if S.FIGURE3C_FITTED_RATIO in table.columns:
        ratio = float(table[S.FIGURE3C_FITTED_RATIO].iloc[0])
    else:
        ratio = float((forward * backward).sum() / (forward * forward).sum())
    if not backward.any():
        raise NotRun(f"{S.FIGURE3C_FILE}: NFE-B is 0 in every batch (no adjoint run)")
    return Measurement(
        value=ratio,
        n=len(table),
        text=f"{ratio:.2f} (NFE-F {forward.mean():.1f}, NFE-B {backward.mean():.1f} "
        f"per batch, {len(table)} batches)",
    )


def series(ctx: Context, *, root: str, file: str, x: str, y: str) -> Measurement:
    """Columns *x* and *y* of a CSV, sorted by x (for monotonic claims)."""
    table = ctx.csv(root, file)
    require_columns(table, [x, y], file)
    table = table[[x, y]].dropna().sort_values(x)
    if len(table) < 2:
        raise NotRun(f"{file} has fewer than two points of {y} vs {x}")
    xs, ys = table[x].astype(float).tolist(), table[y].astype(float).tolist()
    return Measurement(
        x=xs,
        y=ys,
        n=len(xs),
        text=f"{y} {_fmt(ys[0])} at {x} = {_fmt(xs[0])} … {_fmt(ys[-1])} at "
        f"{x} = {_fmt(xs[-1])} ({len(xs)} points)",
    )


# --- Memory vs depth -----------------------------------------------------------------------------


def _memory_fit(ctx: Context, variant: str) -> pd.Series:
    table = ctx.csv("figures", S.MEMORY_FITS_FILE)
    require_columns(table, [S.MEMORY_FITS_KEY], S.MEMORY_FITS_FILE)
    rows = table[table[S.MEMORY_FITS_KEY] == variant]
    if rows.empty:
        raise NotRun(f"{S.MEMORY_FITS_FILE} has no fit for variant {variant!r}")
    return rows.iloc[0]


def _depth_range(row: pd.Series) -> tuple[float, float]:
    text = str(row.get(S.MEMORY_FITS_DEPTHS, ""))
    try:
        low, high = (float(part) for part in text.split(".."))
    except ValueError:
        raise MalformedInput(
            f"malformed input: {S.MEMORY_FITS_FILE} column "
            f"{S.MEMORY_FITS_DEPTHS!r} is {text!r}, expected 'min..max'"
        ) from None
    return low, high


def memory_slope(
    ctx: Context, *, variant: str, reference: str, quantity: str = "memory"
) -> Measurement:
    """Fitted slope per solver step (or block) of *variant*, beside the slope of *reference*."""
    slope_column, _, unit = S.MEMORY_FITS_QUANTITIES[quantity]
    table = ctx.csv("figures", S.MEMORY_FITS_FILE)
    require_columns(table, [slope_column], S.MEMORY_FITS_FILE)
    slope = float(_memory_fit(ctx, variant)[slope_column])
    ref = float(_memory_fit(ctx, reference)[slope_column])
    scale, shown = (2**20, "MiB") if unit == "bytes" else (1.0, unit)
    low, high = _depth_range(_memory_fit(ctx, variant))
    # Below one byte (or a microsecond) per step the fit's rounding noise is zero.
    tiny = 1.0 if unit == "bytes" else 1e-6
    own = "0" if abs(slope) < tiny else f"{slope / scale:.3g}"
    return Measurement(
        value=slope,
        reference=ref,
        reference_label=reference,
        text=f"{own} {shown}/step ({reference}: {ref / scale:.3g} "
        f"{shown}/step; depths {low:g}–{high:g})",
    )


def memory_growth(ctx: Context, *, variant: str, quantity: str = "memory") -> Measurement:
    """Factor by which *variant*'s measured peak memory (or step time) grows from the smallest to
    the largest depth measured: value(max depth) / value(min depth)."""
    column, unit, scale = S.MEMORY_POINTS_QUANTITIES[quantity]
    table = ctx.csv("figures", S.MEMORY_POINTS_FILE)
    require_columns(table, [S.MEMORY_FITS_KEY, S.MEMORY_POINTS_DEPTH, column], S.MEMORY_POINTS_FILE)
    rows = table[table[S.MEMORY_FITS_KEY] == variant].sort_values(S.MEMORY_POINTS_DEPTH)
    if rows[S.MEMORY_POINTS_DEPTH].nunique() < 2:
        raise NotRun(f"{S.MEMORY_POINTS_FILE} has fewer than two depths for variant {variant!r}")
    low, high = rows.iloc[0], rows.iloc[-1]
    factor = float(high[column]) / float(low[column])
    return Measurement(
        value=factor,
        text=(
            f"×{factor:.3g} (depth {int(low[S.MEMORY_POINTS_DEPTH])} → "
            f"{int(high[S.MEMORY_POINTS_DEPTH])}:"
            f" {_fmt(float(low[column]) / scale)} → {_fmt(float(high[column]) / scale)} {unit})"
        ),
    )


# --- FFJORD VAE table ---------------------------------------------------------------------------


def vae_rows(ctx: Context) -> pd.DataFrame:
    """The VAE table plus ``paper_flow`` and ``paper_dataset`` columns (None where unmapped)."""
    table = ctx.csv("results", S.VAE_TABLE_FILE)
    columns = S.VAE_COLUMNS
    require_columns(table, [columns["flow"], columns["dataset"], columns["mean"]], S.VAE_TABLE_FILE)
    flow_of = {alias: row for row, aliases in S.VAE_FLOWS.items() for alias in aliases}
    dataset_of = {alias: col for col, aliases in S.VAE_DATASETS.items() for alias in aliases}
    table = table.copy()
    table["paper_flow"] = table[columns["flow"]].astype(str).str.lower().map(flow_of)
    table["paper_dataset"] = table[columns["dataset"]].astype(str).str.lower().map(dataset_of)
    return table


def vae_best(table: pd.DataFrame, flow: str, dataset: str) -> pd.Series | None:
    """The row for the paper's (flow, dataset) cell: the lowest mean among the flow's variants."""
    rows = table[(table["paper_flow"] == flow) & (table["paper_dataset"] == dataset)]
    rows = rows[rows[S.VAE_COLUMNS["mean"]].notna()]
    if rows.empty:
        return None
    return rows.sort_values(S.VAE_COLUMNS["mean"]).iloc[0]


def vae_cell(ctx: Context, *, flow: str, dataset: str) -> Measurement:
    """Our −ELBO for the paper's VAE-table cell (flow row, dataset column), mean ± std."""
    if flow not in S.VAE_FLOWS or dataset not in S.VAE_DATASETS:
        raise ValueError(f"unknown VAE cell {flow}/{dataset}")
    columns = S.VAE_COLUMNS
    table = vae_rows(ctx)
    row = vae_best(table, flow, dataset)
    if row is None:
        cell = table[(table["paper_flow"] == flow) & (table["paper_dataset"] == dataset)]
        status = (
            sorted(set(cell[columns["status"]].astype(str))) if columns["status"] in cell else []
        )
        raise NotRun(
            f"{S.VAE_TABLE_FILE} has no result for flow {'/'.join(S.VAE_FLOWS[flow])} on "
            f"dataset {dataset}" + (f": {', '.join(status)}" if status else "")
        )
    unit = row.get(columns["unit"]) if columns["unit"] in row else None
    if isinstance(unit, str) and unit != S.VAE_UNITS[dataset]:
        raise MalformedInput(
            f"malformed input: {S.VAE_TABLE_FILE} gives {dataset} in {unit!r}; "
            f"the paper's column is in {S.VAE_UNITS[dataset]!r}"
        )
    n = _number(row.get(columns["n_seeds"])) if columns["n_seeds"] in row else None
    chosen = row[columns["flow"]]
    detail = (
        f"best of {', '.join(S.VAE_FLOWS[flow])}: {chosen}"
        if len(S.VAE_FLOWS[flow]) > 1 and flow == "sylvester"
        else ""
    )
    return Measurement(
        value=float(row[columns["mean"]]),
        std=_number(row.get(columns["std"])) if columns["std"] in row else None,
        n=int(n) if n else None,
        detail=detail,
    )


# --- The article's experiments -------------------------------------------------------------------


def _lookup(payload, path: str) -> list:
    """Values at a dotted *path* in nested dicts; '*' matches every key at its level."""
    found = [payload]
    for part in path.split("."):
        found = [
            value
            for node in found
            if isinstance(node, dict)
            for value in (node.values() if part == "*" else [node[part]] if part in node else [])
        ]
    return found


def article_values(
    ctx: Context, experiment: str, key: str, variant: str | None = None
) -> tuple[list[float], list[Path]]:
    """Every value of *key* in the metrics.json files of one article experiment (one file per
    seed; *variant*: a sub-folder, such as A4's readout)."""
    folder = ctx.root("results") / S.ARTICLE_DIR / experiment
    if variant:
        folder = folder / variant
    files = sorted(folder.rglob(S.ARTICLE_METRICS)) if folder.is_dir() else []
    if not files:
        raise NotRun(
            f"{folder / S.ARTICLE_METRICS} is missing (no run of article experiment "
            f"{experiment.upper()}{f' {variant}' if variant else ''})"
        )
    # Per-seed files win over a summary file beside them, so no seed counts twice.
    per_seed = [f for f in files if any(p.startswith("seed") for p in f.relative_to(folder).parts)]
    paths = S.ARTICLE_KEYS.get(key, key)
    paths = (paths,) if isinstance(paths, str) else paths
    values: list[float] = []
    for path in per_seed or files:
        payload = json.loads(path.read_text())
        found = next((v for p in paths for v in [_lookup(payload, p)] if v), None)
        if found is None:
            raise MalformedInput(
                f"malformed input: {path} has no {' or '.join(map(repr, paths))} "
                f"(keys: {', '.join(sorted(payload))}); adjust replication/claims/sources.py"
            )
        for raw in found:
            values.extend(float(v) for v in (raw if isinstance(raw, list) else [raw]))
    return values, per_seed or files


def article_metric(
    ctx: Context, *, experiment: str, key: str, variant: str | None = None
) -> Measurement:
    """Mean ± std over seeds of one article metric; accuracies are read as percentages."""
    values, _ = article_values(ctx, experiment, key, variant)
    array = np.asarray(values, float)
    if key == "accuracy" and np.all(array <= 1.0):
        array = array * 100.0  # stored as a fraction
    return Measurement(
        value=float(array.mean()),
        std=float(array.std(ddof=1)) if len(array) > 1 else None,
        n=len(array),
    )


def _fmt(value: float | None) -> str:
    """A number for people: 3 significant digits, 2 decimals from 10 on, thousands separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.2f}"
    return f"{value:.3g}"


# Accepted values of measure arguments that select from a mapping (checked when the registry loads).
ARG_CHOICES: dict[str, dict[str, tuple]] = {
    "table1": {"quantity": tuple(S.TABLE1_QUANTITIES)},
    "table1_ratio": {"quantity": tuple(S.TABLE1_QUANTITIES)},
    "table1_difference": {"quantity": tuple(S.TABLE1_QUANTITIES)},
    "table2": {"model": tuple(S.TABLE2_MODELS), "n": S.TABLE2_N},
    "series": {"root": ("results", "figures")},
    "memory_slope": {"quantity": tuple(S.MEMORY_FITS_QUANTITIES)},
    "memory_growth": {"quantity": tuple(S.MEMORY_POINTS_QUANTITIES)},
    "vae_cell": {"flow": tuple(S.VAE_FLOWS), "dataset": tuple(S.VAE_DATASETS)},
    "article_metric": {
        "experiment": ("a1", "a2", "a3", "a4"),
        "key": tuple(S.ARTICLE_KEYS),
        "variant": S.ARTICLE_A4_READOUTS,
    },
}

MEASURES: dict[str, Callable[..., Measurement]] = {
    "table1": table1,
    "table1_ratio": table1_ratio,
    "table1_difference": table1_difference,
    "table2": table2,
    "nfe_backward_forward_ratio": nfe_backward_forward_ratio,
    "series": series,
    "memory_slope": memory_slope,
    "memory_growth": memory_growth,
    "vae_cell": vae_cell,
    "article_metric": article_metric,
}
