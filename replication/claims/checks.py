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
    MalformedInput,
    NotRun,
    _fmt,
    _table1_quantity,
    _table2_cell,
    _table2_measurement,
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
    ctx: Context,
    *,
    models: list[str],
    reference: str,
    tolerance: float,
    one_sided: bool = False,
    max_error: float = S.MNIST_CONSTANT_PREDICTOR_ERROR,
) -> CheckResult:
    """Each of *models* has a Table 1 test error within *tolerance* points of *reference*'s
    (``one_sided``: at most *tolerance* points worse, any amount better).

    Precondition: every model compared beats a constant predictor (test error below
    *max_error*); two untrained models are "similar" and prove nothing, so the check then
    returns None (inconclusive)."""
    ref = _table1_quantity(ctx, reference, "test_error").value
    errors = {m: _table1_quantity(ctx, m, "test_error").value for m in models}
    gaps = {m: error - ref for m, error in errors.items()}
    worst = max(gaps, key=lambda m: gaps[m] if one_sided else abs(gaps[m]))
    text = ", ".join(f"{m} {gap:+.2f}" for m, gap in gaps.items())
    measured = f"error − {reference}'s ({_fmt(ref)} %): {text} points"
    untrained = [m for m, e in {reference: ref, **errors}.items() if not e < max_error]
    if untrained:
        return CheckResult(
            None,
            measured,
            f"precondition failed: {', '.join(untrained)} do(es) not beat a constant predictor "
            f"(test error ≥ {max_error:g} %), so similar errors show nothing",
            value=gaps[worst],
        )
    if one_sided:
        passed = all(gap <= tolerance for gap in gaps.values())
        bound = f"≤ +{tolerance:g}"
    else:
        passed = all(abs(gap) <= tolerance for gap in gaps.values())
        bound = f"±{tolerance:g}"
    return CheckResult(
        passed,
        measured,
        f"largest gap {gaps[worst]:+.2f} points ({worst}) "
        f"{'within' if passed else 'beyond'} {bound}; every model beats a constant predictor "
        f"(< {max_error:g} % error)",
        value=gaps[worst],
    )


def linear_growth(
    ctx: Context, *, variant: str, quantity: str = "memory", min_r2: float = 0.97
) -> CheckResult:
    """O(L): *variant*'s peak memory (or step time) grows linearly with the depth L.

    Fits y = a + b·L and, for contrast, y = a + c·√L over the depths measured. Linear growth
    needs b > 0, R²(linear) ≥ *min_r2* (a constant model is rejected: it explains none of the
    variance) and R²(linear) > R²(√L): growth like √L, which a "×1.5 over 64× depth" test would
    pass, fails here."""
    column, unit, scale = S.MEMORY_POINTS_QUANTITIES[quantity]
    table = ctx.csv("figures", S.MEMORY_POINTS_FILE)
    require_columns(table, [S.MEMORY_FITS_KEY, S.MEMORY_POINTS_DEPTH, column], S.MEMORY_POINTS_FILE)
    rows = table[table[S.MEMORY_FITS_KEY] == variant].sort_values(S.MEMORY_POINTS_DEPTH)
    if rows[S.MEMORY_POINTS_DEPTH].nunique() < 3:
        raise NotRun(f"{S.MEMORY_POINTS_FILE} has fewer than three depths for variant {variant!r}")
    depth = rows[S.MEMORY_POINTS_DEPTH].to_numpy(float)
    y = rows[column].to_numpy(float)
    r2_linear, slope = fit_r2(depth, y)
    r2_sqrt, _ = fit_r2(np.sqrt(depth), y)
    passed = slope > 0 and r2_linear >= min_r2 and r2_linear > r2_sqrt
    measured = (
        f"{_fmt(y[0] / scale)} → {_fmt(y[-1] / scale)} {unit} over L = {depth[0]:g}…{depth[-1]:g}; "
        f"slope {_fmt(slope / scale)} {unit}/step"
    )
    return CheckResult(
        passed,
        measured,
        f"linear fit R² {r2_linear:.3f} (needs ≥ {min_r2:g}, slope > 0) vs √L fit R² "
        f"{r2_sqrt:.3f} (linear must fit better)",
        value=r2_linear,
        n=len(depth),
    )


def fit_r2(x, y) -> tuple[float, float]:
    """(R², slope) of the least-squares line y = a + b·x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    design = np.column_stack([np.ones_like(x), x])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = float(((y - design @ coefficients) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    return (1.0 - residual / total if total > 0 else 0.0), float(coefficients[1])


def proportional(
    ctx: Context, *, root: str, file: str, x: str, y: str, max_rel_spread: float = 0.25,
    min_x_range: float = 2.0,
) -> CheckResult:
    """y ∝ x: the ratio y/x is the same at every point, within ±*max_rel_spread* of its median.

    A correlation would pass for any rising y (overhead-dominated times included); a constant
    ratio is what proportionality means. Needs x to span a factor ≥ *min_x_range*, else the
    points cannot tell y ∝ x from a constant y (None)."""
    table = ctx.csv(root, file)
    require_columns(table, [x, y], file)
    table = table[[x, y]].dropna()
    xs, ys = table[x].to_numpy(float), table[y].to_numpy(float)
    if len(xs) < 2 or not (xs > 0).all():
        raise NotRun(f"{file} has fewer than two points with {x} > 0")
    ratio = ys / xs
    median = float(np.median(ratio))
    spread = float(np.max(np.abs(ratio / median - 1.0)))
    measured = (
        f"{y}/{x} {_fmt(ratio.min())}–{_fmt(ratio.max())} (median {_fmt(median)}) over "
        f"{x} = {_fmt(xs.min())}…{_fmt(xs.max())}"
    )
    if xs.max() / xs.min() < min_x_range:
        return CheckResult(None, measured, f"{x} spans less than ×{min_x_range:g}: too narrow to "
                           "tell proportional from constant", value=spread, n=len(xs))
    return CheckResult(
        spread <= max_rel_spread,
        measured,
        f"{y}/{x} is within {spread:.0%} of its median at every point (≤ {max_rel_spread:.0%} "
        "counts as proportional)",
        value=spread,
        n=len(xs),
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
    latent dimension (mode 'same_final': final NFEs within *max_rel_spread* of their mean; its
    precondition is that NFE rose for every D, i.e. training changed the dynamics, else None)."""
    cols = S.FFJORD_NFE_DIM_COLUMNS
    table = ctx.csv("results", S.FFJORD_NFE_DIM_FILE)
    require_columns(table, list(cols.values()), S.FFJORD_NFE_DIM_FILE)
    first, final = {}, {}
    for dim, rows in table.sort_values(cols["epoch"]).groupby(cols["dim"]):
        tail = max(1, len(rows) // 10)  # the mean of the last (first) 10 % of epochs
        first[int(dim)] = float(rows[cols["nfe"]].iloc[:tail].mean())
        final[int(dim)] = float(rows[cols["nfe"]].iloc[-tail:].mean())
    measured = ", ".join(f"D={d}: {first[d]:.0f}→{final[d]:.0f}" for d in sorted(final))
    rises = {d: final[d] >= first[d] * (1 + min_rel_change) for d in final}
    if mode == "rises":
        passed = all(rises.values())
        return CheckResult(
            passed,
            measured,
            f"NFE rose by ≥ {min_rel_change:.0%} for "
            f"{sum(rises.values())} of {len(rises)} latent sizes",
        )
    values = np.array(list(final.values()))
    spread = float((values.max() - values.min()) / values.mean())
    if not all(rises.values()):
        # Untrained solvers all take the same NFE: "the same for every D" then shows nothing.
        return CheckResult(
            None,
            measured,
            f"precondition failed: NFE rose by ≥ {min_rel_change:.0%} for only "
            f"{sum(rises.values())} of {len(rises)} latent sizes, so the final NFEs (spread "
            f"{spread:.0%}) may be those of untrained dynamics",
            value=spread,
        )
    return CheckResult(
        spread <= max_rel_spread,
        measured,
        f"final NFE spread {spread:.0%} of the mean (≤ {max_rel_spread:.0%} is 'about the same'); "
        f"NFE rose by ≥ {min_rel_change:.0%} for every latent size",
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


def toy_density_normalized(ctx: Context, *, min_mass: float = 0.95, max_mass: float = 1.01,
                           max_outside: float = 1e-3) -> CheckResult:
    """Every toy model's density integrates to a mass in [min_mass, max_mass]: at most 1 (a
    normalized density, up to quadrature error) and not much less.

    The mass is the one over the wide square that holds all but *max_outside* of the model's
    mass (columns :data:`~replication.claims.sources.TOY_WIDE_MASS_COLUMNS`); results without it
    (older runs) are judged on the plotted square's mass, which misses whatever lies outside."""
    cols, wide = S.TOY_DENSITY_COLUMNS, S.TOY_WIDE_MASS_COLUMNS
    table = ctx.csv("figures", S.TOY_DENSITY_FILE)
    require_columns(table, list(cols.values()), S.TOY_DENSITY_FILE)
    has_wide = all(c in table.columns for c in wide.values())
    column = wide["mass"] if has_wide else cols["mass"]
    masses = dict(zip(table[cols["dataset"]], table[column].astype(float)))
    inside = {name: min_mass <= mass <= max_mass for name, mass in masses.items()}
    measured = ", ".join(f"{name}: {mass:.4f}" for name, mass in masses.items())
    where = "over the plotted grid (no wider square measured)"
    if has_wide:
        limits = dict(zip(table[cols["dataset"]], table[wide["limit"]].astype(float)))
        outside = dict(zip(table[cols["dataset"]], table[wide["outside"]].astype(float)))
        measured += " (over [−L, L]²: " + ", ".join(
            f"{n} L={limits[n]:g}, outside {outside[n]:.1e}" for n in masses) + ")"
        where = f"over a square holding all but < {max_outside:g} of it"
        too_narrow = [n for n, o in outside.items() if not o < max_outside]
        if too_narrow:
            return CheckResult(None, measured, f"the widest square measured leaves ≥ "
                               f"{max_outside:g} of the mass outside for "
                               f"{', '.join(too_narrow)}: the mass is not measured",
                               n=len(inside))
    return CheckResult(all(inside.values()), measured,
                       f"{sum(inside.values())} of {len(inside)} densities integrate to a mass "
                       f"in [{min_mass}, {max_mass}] {where}", n=len(inside))


def trace_variance(ctx: Context, *, noise: str, max_rel_error: float = 0.1,
                   below_gaussian: bool = False) -> CheckResult:
    """Hutchinson's estimator has the variance its closed form gives, at every D measured:
    Gaussian ε: Var = ½‖J + Jᵀ‖_F² (= ‖J‖_F² + tr J², growing with ‖J‖_F²); Rademacher ε: that
    minus 2Σᵢ Jᵢᵢ². The empirical variance over the run's draws must be within
    *max_rel_error* of the closed form at every D; with *below_gaussian*, the Rademacher closed
    form must also be ≤ the Gaussian one at every D."""
    cols = S.TRACE_VARIANCE_COLUMNS
    table = ctx.csv("figures", S.TRACE_COST_POINTS_FILE)
    require_columns(table, [cols[k] for k in ("dim", "gaussian_empirical", "gaussian_analytic",
                                              "rademacher_empirical", "rademacher_analytic")],
                    S.TRACE_COST_POINTS_FILE)
    empirical = table[cols[f"{noise}_empirical"]].to_numpy(float)
    analytic = table[cols[f"{noise}_analytic"]].to_numpy(float)
    error = np.abs(empirical / analytic - 1.0)
    dims = table[cols["dim"]].astype(int).tolist()
    worst = int(np.argmax(error))
    measured = (f"{noise} Var/closed form {np.min(empirical / analytic):.3f}–"
                f"{np.max(empirical / analytic):.3f} over D = {dims[0]}…{dims[-1]}")
    passed = bool(np.all(error <= max_rel_error))
    reason = (f"empirical variance within {error[worst]:.1%} of the closed form at every D "
              f"(worst D = {dims[worst]}; ≤ {max_rel_error:.0%} required)")
    if below_gaussian:
        gaussian = table[cols["gaussian_analytic"]].to_numpy(float)
        below = bool(np.all(analytic <= gaussian))
        measured += f"; Rademacher / Gaussian closed form {np.min(analytic / gaussian):.3f}–" \
                    f"{np.max(analytic / gaussian):.3f}"
        passed = passed and below
        reason += ("; Rademacher's closed form ≤ Gaussian's at every D" if below
                   else "; Rademacher's closed form exceeds Gaussian's somewhere")
    return CheckResult(passed, measured, reason, value=float(error[worst]), n=len(dims))


def update_follows_gradient(ctx: Context, *, experiment: str = "a1",
                            arrays: list[str] = ("w1", "b1", "w2", "b2"),
                            min_cosine: float = 0.9) -> CheckResult:
    """Article A1: its hand-written backward pass approximates the adjoint (exact gradient):
    for every array the adjoint's state a reaches (*arrays*), the median cosine between the
    article's update and the negative exact gradient is ≥ *min_cosine*, in every run."""
    found = {}
    for name in arrays:
        try:
            values, files = article_values(ctx, experiment, f"adjoint_update_cosine.{name}")
        except MalformedInput as missing:  # runs of older code did not measure it
            raise NotRun(f"{missing}: the runs predate this measurement; rerun article "
                         f"{experiment.upper()}") from None
        found[name] = min(values)
    worst = min(found, key=found.get)
    measured = "median cos(update, −gradient): " + ", ".join(
        f"{k} {v:+.2f}" for k, v in found.items()) + f" ({len(files)} runs)"
    passed = all(v >= min_cosine for v in found.values())
    return CheckResult(passed, measured,
                       f"lowest {found[worst]:+.2f} ({worst}); ≥ {min_cosine:g} for every array "
                       "counts as an approximation of the gradient", value=found[worst],
                       n=len(files))


def bottleneck_variance(ctx: Context, *, noise: str, reduces: bool = True) -> CheckResult:
    """FFJORD §3.1.1's bottleneck trick, by the closed forms: at every D above the bottleneck
    width H, Hutchinson's variance with ε ∈ ℝ^H on M = W₁ ∂g/∂h is below (``reduces``) — or,
    with ``reduces: false``, not below — the variance with ε ∈ ℝ^D on ∂f/∂z."""
    cols = S.TRACE_VARIANCE_COLUMNS
    table = ctx.csv("figures", S.TRACE_COST_POINTS_FILE)
    needed = [cols["dim"], cols["hidden"], cols[f"{noise}_analytic"], cols[f"{noise}_bottleneck"]]
    try:
        require_columns(table, needed, S.TRACE_COST_POINTS_FILE)
    except MalformedInput as missing:
        raise NotRun(f"{missing}: the trace-cost run predates the bottleneck measurement; "
                     "rerun it") from None
    wide = table[table[cols["dim"]] > table[cols["hidden"]]]
    if wide.empty:
        raise NotRun(f"{S.TRACE_COST_POINTS_FILE} has no D above the bottleneck width")
    ratio = (wide[cols[f"{noise}_bottleneck"]] / wide[cols[f"{noise}_analytic"]]).to_numpy(float)
    dims = wide[cols["dim"]].astype(int).tolist()
    measured = (f"{noise} variance with / without the bottleneck (H = "
                f"{int(wide[cols['hidden']].iloc[0])}): {ratio.min():.3f}–{ratio.max():.3f} "
                f"over D = {dims[0]}…{dims[-1]}")
    lower = bool(np.all(ratio < 1))
    passed = lower if reduces else not bool(np.any(ratio < 1))
    verb = "reduces" if lower else ("does not reduce" if not np.any(ratio < 1) else
                                    "reduces only at some D")
    return CheckResult(passed, measured, f"the bottleneck {verb} the {noise} variance for D > H",
                       value=float(ratio.max()), n=len(dims))


def table2_latent_below_rnn(ctx: Context, *, n: int) -> CheckResult:
    """Neural ODE Table 2: at n observations the latent ODE's mean test RMSE of extrapolation is
    lower than the better of our two RNN versions' (plain and with Δt), so lower than both."""
    latent = _table2_measurement(_table2_cell(ctx, "latent_ode", n)[0])
    row, chosen = _table2_cell(ctx, "rnn", n)
    rnn = _table2_measurement(row)
    gap = latent.value - rnn.value
    stds = [s for s in (latent.std, rnn.std) if s is not None]
    spread = f" ± {float(np.sqrt(sum(s * s for s in stds))):.3f}" if stds else ""
    seeds = min(filter(None, [latent.n, rnn.n]), default=None)
    passed = gap < 0
    return CheckResult(
        passed,
        f"latent ODE {_fmt(latent.value)} vs {chosen} {_fmt(rnn.value)} at n = {n} "
        f"(gap {gap:+.3f}{spread}{f', {seeds} seed(s)' if seeds else ''})",
        f"the latent ODE's mean RMSE is {'below' if passed else 'not below'} the better RNN's "
        f"({chosen}, the better of {', '.join(S.TABLE2_MODELS['rnn'])} at n = {n})",
        value=gap,
        n=seeds,
    )


CHECKS: dict[str, Callable[..., CheckResult]] = {
    "bottleneck_variance": bottleneck_variance,
    "table2_latent_below_rnn": table2_latent_below_rnn,
    "update_follows_gradient": update_follows_gradient,
    "trace_variance": trace_variance,
    "similar_performance": similar_performance,
    "linear_growth": linear_growth,
    "proportional": proportional,
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
    "table2_latent_below_rnn": {"n": S.TABLE2_N},
    "nfe_vs_dim": {"mode": ("rises", "same_final")},
    "linear_growth": {"quantity": tuple(S.MEMORY_POINTS_QUANTITIES)},
    "proportional": {"root": ("results", "figures")},
    "trace_variance": {"noise": ("gaussian", "rademacher")},
    "bottleneck_variance": {"noise": ("gaussian", "rademacher")},
}
