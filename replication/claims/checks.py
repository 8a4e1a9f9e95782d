"""Check functions: how the registry's qualitative claims are decided.

A qualitative claim names one of :data:`CHECKS` (``comparison: {kind: qualitative, check: ...,
args: {...}}``). A check reads its inputs through a :class:`~replication.claims.measures.Context`
and returns a :class:`CheckResult`: ``passed`` True / False, or None when the results can decide
neither way (the verdict is then "inconclusive at this scale"), what was measured, and why.
It raises :class:`~replication.claims.measures.NotRun` when its inputs are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from replication.claims import sources as S
from replication.claims.measures import (
    Context,
    NotRun,
    _fmt,
    _table1_quantity,
    article_values,
    require_columns,
    vae_best,
    vae_rows,
)


@dataclass
class CheckResult:
    passed: bool | None
    measured: str
    reason: str
    value: float | None = None
    n: int | None = None


def correlation(x, y, statistic: str = "spearman") -> float:
    """Pearson correlation of x and y, or of their ranks (Spearman; ties get the mean rank)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if statistic == "spearman":
        x, y = _ranks(x), _ranks(y)
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):  # ties: the mean of their ranks
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def similar_performance(
    ctx: Context, *, models: list[str], reference: str, tolerance: float
) -> CheckResult:
    """Each of *models* has a Table 1 test error within *tolerance* points of *reference*'s."""
    ref = _table1_quantity(ctx, reference, "test_error").value
    gaps = {m: _table1_quantity(ctx, m, "test_error").value - ref for m in models}
    worst = max(gaps, key=lambda m: abs(gaps[m]))
    text = ", ".join(f"{m} {gap:+.2f}" for m, gap in gaps.items())
    passed = all(abs(gap) <= tolerance for gap in gaps.values())
    return CheckResult(
        passed,
        f"error − {reference}'s ({_fmt(ref)} %): {text} points",
        f"largest gap {gaps[worst]:+.2f} points ({worst}) "
        f"{'within' if passed else 'beyond'} ±{tolerance:g}",
        value=gaps[worst],
    )


def tolerance_tradeoff(ctx: Context, *, min_correlation: float = 0.8) -> CheckResult:
    """The solver tolerance trades precision for speed: more NFE → smaller error and longer time."""
    table = ctx.csv("results", S.SWEEP_FILE)
    require_columns(table, [S.SWEEP_NFE, S.SWEEP_ERROR, S.SWEEP_SECONDS], S.SWEEP_FILE)
    if len(table) < 3:
        raise NotRun(f"{S.SWEEP_FILE} has fewer than three tolerances")
    nfe = table[S.SWEEP_NFE]
    error_rho = correlation(nfe, table[S.SWEEP_ERROR])
    time_rho = correlation(nfe, table[S.SWEEP_SECONDS])
    passed = error_rho <= -min_correlation and time_rho >= min_correlation
    measured = (
        f"NFE {int(nfe.min())}–{int(nfe.max())}: error {_fmt(table[S.SWEEP_ERROR].max())}"
        f"→{_fmt(table[S.SWEEP_ERROR].min())}, time {_fmt(table[S.SWEEP_SECONDS].min())}"
        f"–{_fmt(table[S.SWEEP_SECONDS].max())} s"
    )
    return CheckResult(
        passed,
        measured,
        f"Spearman ρ(NFE, error) = {error_rho:+.2f}, ρ(NFE, time) = {time_rho:+.2f} "
        f"(needs ≤ −{min_correlation:g} and ≥ +{min_correlation:g})",
        n=len(table),
    )


def ffjord_beats_baselines(ctx: Context) -> CheckResult:
    """FFJORD's −ELBO is below every other flow's on every dataset of the VAE table."""
    table = vae_rows(ctx)
    mean = S.VAE_COLUMNS["mean"]
    compared, lost, missing = [], [], []
    for dataset in S.VAE_DATASETS:
        ours = vae_best(table, "ffjord", dataset)
        others = [
            (flow, vae_best(table, flow, dataset)) for flow in S.VAE_FLOWS if flow != "ffjord"
        ]
        others = [(flow, row) for flow, row in others if row is not None]
        if ours is None or not others:
            missing.append(dataset)
            continue
        best_flow, best = min(others, key=lambda item: item[1][mean])
        margin = float(best[mean]) - float(ours[mean])
        compared.append(f"{dataset} {margin:+.2f} vs {best_flow}")
        if margin <= 0:
            lost.append(dataset)
    if not compared:
        raise NotRun(f"{S.VAE_TABLE_FILE} has no dataset with an FFJORD row and a baseline row")
    measured = "FFJORD margin below the best baseline: " + ", ".join(compared)
    if lost:
        return CheckResult(False, measured, f"FFJORD is not the best on {', '.join(lost)}")
    if missing:
        return CheckResult(
            None,
            measured,
            f"FFJORD best on all {len(compared)} datasets run; not run: {', '.join(missing)}",
        )
    return CheckResult(True, measured, "FFJORD has the lowest −ELBO on every dataset")


def nfe_vs_dim(
    ctx: Context, *, mode: str, max_rel_spread: float = 0.25, min_rel_change: float = 0.1
) -> CheckResult:
    """FFJORD Figure 5: NFE rises in training (mode 'rises') to about the same value for every
    latent dimension (mode 'same_final': final NFEs within *max_rel_spread* of their mean)."""
    cols = S.FFJORD_NFE_DIM_COLUMNS
    table = ctx.csv("results", S.FFJORD_NFE_DIM_FILE)
    require_columns(table, list(cols.values()), S.FFJORD_NFE_DIM_FILE)
    first, final = {}, {}
    for dim, rows in table.sort_values(cols["epoch"]).groupby(cols["dim"]):
        tail = max(1, len(rows) // 10)  # the mean of the last (first) 10 % of epochs
        first[int(dim)] = float(rows[cols["nfe"]].iloc[:tail].mean())
        final[int(dim)] = float(rows[cols["nfe"]].iloc[-tail:].mean())
    measured = ", ".join(f"D={d}: {first[d]:.0f}→{final[d]:.0f}" for d in sorted(final))
    if mode == "rises":
        rises = {d: final[d] >= first[d] * (1 + min_rel_change) for d in final}
        passed = all(rises.values())
        return CheckResult(
            passed,
            measured,
            f"NFE rose by ≥ {min_rel_change:.0%} for "
            f"{sum(rises.values())} of {len(rises)} latent sizes",
        )
    values = np.array(list(final.values()))
    spread = float((values.max() - values.min()) / values.mean())
    return CheckResult(
        spread <= max_rel_spread,
        measured,
        f"final NFE spread {spread:.0%} of the mean (≤ {max_rel_spread:.0%} is 'about the same')",
        value=spread,
    )


def a2_steps_tradeoff(
    ctx: Context,
    *,
    trained_n: int,
    trained_dt: float,
    noise_points: float = 0.2,
    min_gain_points: float = 0.1,
) -> CheckResult:
    """Article A2: at the trained horizon T = n·dt, fewer Euler steps cost accuracy and more steps
    recover it, without retraining: accuracy never falls by more than *noise_points* as n grows,
    and rises by at least *min_gain_points* from the fewest to the most steps."""
    cols = S.ARTICLE_A2_COLUMNS
    folder = ctx.root("results") / S.ARTICLE_A2_DIR
    files = sorted(folder.rglob(S.ARTICLE_A2_FILE)) if folder.is_dir() else []
    if not files:
        raise NotRun(f"{folder}/seed*/{S.ARTICLE_A2_FILE} is missing (no run of article A2)")
    tables = [pd.read_csv(path) for path in files]
    for path, part in zip(files, tables):
        require_columns(part, list(cols.values()), str(path))
    table = pd.concat(tables, ignore_index=True)
    means = table.groupby([cols["n"], cols["dt"]], as_index=False)[cols["accuracy"]].mean()
    accuracy = means[cols["accuracy"]].to_numpy(float)
    if np.all(accuracy <= 1.0):
        means[cols["accuracy"]] = accuracy * 100
    horizon = trained_n * trained_dt
    same_t = means[np.isclose(means[cols["n"]] * means[cols["dt"]], horizon, rtol=1e-6)]
    same_t = same_t.sort_values(cols["n"])
    if same_t[cols["n"]].nunique() < 2:
        raise NotRun(
            f"{S.ARTICLE_A2_DIR}: fewer than two step counts n at the trained horizon "
            f"T = {horizon:g} (settings run: "
            + ", ".join(
                f"n={int(n)} dt={dt:g}" for n, dt in zip(means[cols["n"]], means[cols["dt"]])
            )
            + ")"
        )
    acc = same_t[cols["accuracy"]].to_numpy(float)
    steps = same_t[cols["n"]].astype(int).tolist()
    drops = np.diff(acc)
    gain = float(acc[-1] - acc[0])
    measured = f"at T = {horizon:g}: " + ", ".join(f"n={n} {a:.2f} %" for n, a in zip(steps, acc))
    if np.any(drops < -noise_points):
        return CheckResult(
            False,
            measured,
            f"accuracy falls by {-drops.min():.2f} points with more steps: no monotone trade-off",
            value=gain,
        )
    if gain < min_gain_points:
        return CheckResult(
            False,
            measured,
            f"accuracy changes by {gain:+.2f} points from n={steps[0]}"
            f" to n={steps[-1]}: no trade-off to control",
            value=gain,
        )
    return CheckResult(
        True,
        measured,
        f"accuracy rises by {gain:+.2f} points from n={steps[0]} to "
        f"n={steps[-1]} steps, no retraining",
        value=gain,
    )


def log_density_affects_training(
    ctx: Context, *, experiment: str = "a4", relative_threshold: float = 1e-3
) -> CheckResult:
    """Article A4: the snippet's log-density (its 'FFJORD' part) changes the training gradients.

    Compares the largest change of any parameter gradient when (log p, ε) are carried along
    with the largest gradient. Under an adaptive solver the extra states enter the step-size
    control and change gradients at rounding level; only a change above *relative_threshold*
    of the largest gradient counts as the log-density being used."""
    differences, files = article_values(ctx, experiment, "log_density_gradient")
    try:
        scale = max(abs(v) for v in article_values(ctx, experiment, "largest_gradient")[0])
    except NotRun:
        scale = 1.0
    largest = max(abs(v) for v in differences)
    relative = largest / scale if scale else float("inf")
    measured = (
        f"max |Δ gradient| with vs without the log-density: {largest:.3g} "
        f"({relative:.2g} of the largest gradient; {len(files)} runs)"
    )
    if relative > relative_threshold:
        return CheckResult(
            True,
            measured,
            "the log-density term changes the gradients",
            value=relative,
            n=len(files),
        )
    return CheckResult(
        False,
        measured,
        "the log-density never reaches the loss: the gradients are those of a plain ODE "
        f"classifier (differences ≤ {relative_threshold:g} of the largest gradient are solver "
        "rounding)",
        value=relative,
        n=len(files),
    )


def dynamics_receive_gradient(
    ctx: Context, *, experiment: str = "a4", threshold: float = 1e-12
) -> CheckResult:
    """Article A4 as written: the loss's gradient reaches the ODE dynamics (they are trained)."""
    values, files = article_values(ctx, experiment, "dynamics_gradient")
    largest = max(abs(v) for v in values)
    measured = f"largest gradient reaching the dynamics: {largest:.3g} ({len(files)} runs)"
    if largest > threshold:
        return CheckResult(
            True, measured, "the dynamics receive gradient", value=largest, n=len(files)
        )
    return CheckResult(
        False,
        measured,
        "as written, zT, log_p_zT = solution[-1][:2] takes ε's trajectory, so the classifier "
        "reads the noise ε and no gradient reaches the ODE",
        value=largest,
        n=len(files),
    )


def trace_cost_scaling(ctx: Context, *, min_slope_gap: float = 0.7) -> CheckResult:
    """The exact trace's cost grows a power of D faster than Hutchinson's estimate: the log-log
    slope of seconds per evaluation against D exceeds Hutchinson's by ≥ *min_slope_gap*
    (ideally 1: O(D²) against O(D) for a network of fixed width)."""
    cols = S.TRACE_COST_FITS_COLUMNS
    fits = ctx.csv("figures", S.TRACE_COST_FITS_FILE)
    require_columns(fits, list(cols.values()), S.TRACE_COST_FITS_FILE)
    slopes = fits.set_index(cols["method"])[cols["slope"]]
    if not {"exact", "hutchinson"} <= set(slopes.index):
        raise NotRun(f"{S.TRACE_COST_FITS_FILE} lacks the exact or the Hutchinson fit")
    gap = float(slopes["exact"] - slopes["hutchinson"])
    span = fits.iloc[0]
    measured = (f"slope exact {slopes['exact']:.2f}, Hutchinson {slopes['hutchinson']:.2f} "
                f"(D = {span[cols['min_dim']]}..{span[cols['max_dim']]})")
    return CheckResult(gap >= min_slope_gap, measured,
                       f"the exact trace's slope exceeds Hutchinson's by {gap:.2f} "
                       f"(≥ {min_slope_gap} required)", value=gap)


def toy_density_normalized(ctx: Context, *, min_mass: float = 0.9,
                           max_mass: float = 1.01) -> CheckResult:
    """Every toy model's density, integrated over the plotted square, lies in [min_mass,
    max_mass]: at most 1 (a normalized density, up to quadrature error) and at least most of it
    inside the square that holds the data."""
    cols = S.TOY_DENSITY_COLUMNS
    table = ctx.csv("figures", S.TOY_DENSITY_FILE)
    require_columns(table, list(cols.values()), S.TOY_DENSITY_FILE)
    masses = dict(zip(table[cols["dataset"]], table[cols["mass"]].astype(float)))
    inside = {name: min_mass <= mass <= max_mass for name, mass in masses.items()}
    measured = ", ".join(f"{name}: {mass:.4f}" for name, mass in masses.items())
    return CheckResult(all(inside.values()), measured,
                       f"{sum(inside.values())} of {len(inside)} densities integrate to a mass "
                       f"in [{min_mass}, {max_mass}] over the grid", n=len(inside))


CHECKS: dict[str, Callable[..., CheckResult]] = {
    "similar_performance": similar_performance,
    "tolerance_tradeoff": tolerance_tradeoff,
    "ffjord_beats_baselines": ffjord_beats_baselines,
    "nfe_vs_dim": nfe_vs_dim,
    "trace_cost_scaling": trace_cost_scaling,
    "toy_density_normalized": toy_density_normalized,
    "a2_steps_tradeoff": a2_steps_tradeoff,
    "log_density_affects_training": log_density_affects_training,
    "dynamics_receive_gradient": dynamics_receive_gradient,
}

CHECK_ARG_CHOICES: dict[str, dict[str, tuple]] = {
    "nfe_vs_dim": {"mode": ("rises", "same_final")},
}
