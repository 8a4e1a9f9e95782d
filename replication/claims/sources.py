"""Where the verdicts read their measurements: file names and column names, in one place.

The claims registry (``claims.yaml``) names measure and check functions; those functions find
their numbers through the mappings below only. When another rule renames a file or a column,
change it here and nothing else.

Paths are relative to the results folder of a scale (``results/<scale>``) or to its figures
folder (``figures/<scale>``), as the registry's ``{results}/`` and ``{figures}/`` prefixes say.
"""

from __future__ import annotations

# --- Neural ODE Table 1: results/<scale>/table1.csv (replication.experiments.table1.table), a row per model.
TABLE1_FILE = "table1.csv"
TABLE1_KEY = "model"  # row key: mlp, resnet, rknet, odenet, stem, resnet1
TABLE1_SEEDS = "n_seeds"
# quantity -> (mean column, std column or None, factor to the claim's unit, unit)
TABLE1_QUANTITIES = {
    "test_error": ("test_error_mean", "test_error_std", 1.0, "%"),
    "parameters_millions": ("parameters", None, 1e-6, "M"),
    "peak_memory_mib": ("peak_memory_bytes", None, 1.0 / 2**20, "MiB"),
    "epoch_seconds": ("epoch_seconds", None, 1.0, "s"),
}

# --- Neural ODE Table 2: results/<scale>/table2.csv (replication.experiments.table2.table), one row
# per (model, n): the test RMSE of extrapolation (against the noisy points, the paper's "predictive
# RMSE on test set"), mean and std over seeds.
TABLE2_FILE = "table2.csv"
TABLE2_COLUMNS = {
    "model": "model",  # latent_ode, rnn (plain), rnn_dt (Δt concatenated to the inputs)
    "n": "n_observed",
    "n_seeds": "n_seeds",
    "mean": "rmse_extrapolation_mean",
    "std": "rmse_extrapolation_std",
}
# The paper's rows -> our models. A row with several is the better (lower mean RMSE) of them at
# each n: the paper does not say which RNN its row reports (spec §8.1), so we run both.
TABLE2_MODELS = {
    "latent_ode": ("latent_ode",),
    "rnn": ("rnn", "rnn_dt"),
}
TABLE2_N = (30, 50, 100)

# --- Figure 3 (replication.experiments.figure3.plot): figures/<scale>/figure3{a,b,c,d}.csv.
FIGURE3C_FILE = "figure3c.csv"  # one row per training batch of the adjoint run
FIGURE3C_FORWARD = "nfe_forward"
FIGURE3C_BACKWARD = "nfe_backward"
FIGURE3C_FITTED_RATIO = "fitted_ratio"  # NFE-B / NFE-F, least squares through the origin

# --- Tolerance sweep behind Figure 3a/b: results/<scale>/figure3/tolerance_sweep.csv.
SWEEP_FILE = "figure3/tolerance_sweep.csv"
SWEEP_NFE = "nfe_forward"
SWEEP_ERROR = "relative_error"
SWEEP_SECONDS = "seconds_median"

# --- Memory vs depth (replication.experiments.memory_depth.plot): figures/<scale>/memory_depth_fits.csv,
# one row per variant (resnet, rknet, adjoint) with a straight-line fit over the depths measured.
MEMORY_FITS_FILE = "memory_depth_fits.csv"
MEMORY_FITS_KEY = "variant"
MEMORY_FITS_DEPTHS = "depths"  # "1..64"
MEMORY_FITS_QUANTITIES = {
    # quantity -> (slope column, intercept column or None, unit of the slope)
    "memory": ("memory_bytes_per_step", "memory_intercept_bytes", "bytes"),
    "time": ("seconds_per_step", None, "s"),
}
# The points behind those fits: figures/<scale>/memory_depth.csv, one row per (variant, depth).
MEMORY_POINTS_FILE = "memory_depth.csv"
MEMORY_POINTS_DEPTH = "depth"
MEMORY_POINTS_QUANTITIES = {
    "memory": ("peak_memory_bytes", "MiB", 2**20),
    "time": ("step_seconds_median", "s", 1.0),
}

# --- FFJORD VAE table: results/<scale>/vae_table.csv (replication.experiments.vae_table.table), tidy,
# one row per (flow, dataset) over seeds.
VAE_TABLE_FILE = "vae_table.csv"
VAE_COLUMNS = {
    "flow": "flow",
    "dataset": "dataset",
    "n_seeds": "n_seeds",
    "mean": "neg_elbo_mean",
    "std": "neg_elbo_std",
    "unit": "unit",  # 'nats' or 'bits/dim'
    "status": "status",  # 'run', or why a grid cell has no result (e.g. 'not run (excluded)')
}
# The paper's rows -> our flow names. A row with several names is the best (lowest mean) of them:
# the paper's "Sylvester" row is the best of the O-, H- and T-SNF for each dataset (spec §3.1).
VAE_FLOWS = {
    "no_flow": ("none", "no_flow"),
    "planar": ("planar",),
    "iaf": ("iaf",),
    "sylvester": ("sylvester_o", "sylvester_h", "sylvester_t"),
    "ffjord": ("ffjord", "cnf_rank", "cnf"),
}
# The paper's columns -> the dataset names our rows may use.
VAE_DATASETS = {
    "mnist": ("mnist", "binarized_mnist", "static_mnist", "mnist_static"),
    "omniglot": ("omniglot",),
    "freyfaces": ("freyfaces", "frey_faces", "frey"),
    "caltech": ("caltech", "caltech101_silhouettes", "caltech_silhouettes"),
}
VAE_UNITS = {"mnist": "nats", "omniglot": "nats", "freyfaces": "bits/dim", "caltech": "nats"}

# --- FFJORD Figure 5 (NFE vs latent dimension): one row per (latent_dim, epoch).
FFJORD_NFE_DIM_FILE = "ffjord/nfe_vs_dim.csv"
FFJORD_NFE_DIM_COLUMNS = {"dim": "latent_dim", "epoch": "epoch", "nfe": "nfe_forward"}

# --- Hutchinson vs exact trace (figures/<scale>): fitted log-log slopes of seconds against D.
TRACE_COST_FITS_FILE = "ffjord_trace_cost_fits.csv"
TRACE_COST_FITS_COLUMNS = {"method": "method", "slope": "slope", "min_dim": "min_dim",
                           "max_dim": "max_dim"}

# The trace-cost points (figures/<scale>/ffjord_trace_cost.csv): per D, the empirical variance of
# Hutchinson's estimate and its closed form, for Gaussian and Rademacher ε.
TRACE_COST_POINTS_FILE = "ffjord_trace_cost.csv"
TRACE_VARIANCE_COLUMNS = {
    "dim": "dim",
    "gaussian_empirical": "var_gaussian_empirical",
    "gaussian_analytic": "var_gaussian_analytic",
    "rademacher_empirical": "var_rademacher_empirical",
    "rademacher_analytic": "var_rademacher_analytic",
    "hidden": "hidden",  # the bottleneck width H of the random MLP
    "gaussian_bottleneck": "var_gaussian_bottleneck_analytic",
    "rademacher_bottleneck": "var_rademacher_bottleneck_analytic",
}

# --- FFJORD Figure 2 (figures/<scale>): one row per toy distribution.
TOY_DENSITY_FILE = "ffjord_toy_densities.csv"
TOY_DENSITY_COLUMNS = {"dataset": "dataset", "mass": "grid_mass"}
# The mass over a square wide enough that the model puts < 1e-3 of its mass outside it (its
# half-width, the quadrature's mass, the sampled fraction outside); absent in runs of older code.
TOY_WIDE_MASS_COLUMNS = {"limit": "mass_limit", "mass": "wide_grid_mass",
                         "outside": "mass_outside"}

# --- The article's experiments (replication.experiments.article): one folder per job,
# results/<scale>/article/<a1|a2|a3>/seed<k>/ and results/<scale>/article/a4/<readout>/seed<k>/,
# each with metrics.json. A key below is a dotted path into metrics.json ('*' matches every key
# at that level), or a tuple of such paths tried in order; a value may be a number or a list.
ARTICLE_DIR = "article"
ARTICLE_METRICS = "metrics.json"
ARTICLE_KEYS = {
    "accuracy": "test_accuracy",  # a fraction in [0, 1] or a percentage; read as %
    "nfe_forward": "nfe_forward_per_batch",
    "nfe_backward": "nfe_backward_per_batch",
    # A4: the largest change of any parameter gradient when the log-density is carried along,
    # and the largest gradient, per check (initial/final) and solver.
    "log_density_gradient": (
        "log_density_gradient_max_abs_diff",
        "log_density_effect.*.*.max_abs_grad_diff",
    ),
    "largest_gradient": ("log_density_effect.*.*.max_abs_grad",),
    # A4 as written (its fc(ε) readout): the largest gradient that reaches the ODE dynamics.
    "dynamics_gradient": ("log_density_effect.*.*.as_written_dynamics_max_abs_grad",),
}
ARTICLE_A4_READOUTS = ("as_written", "z_T")  # sub-folders of article/a4
ARTICLE_A2_DIR = "article/a2"  # rows.csv in each seed folder: A1's network at other n and dt
ARTICLE_A2_FILE = "rows.csv"
ARTICLE_A2_COLUMNS = {"n": "n", "dt": "dt", "accuracy": "accuracy"}

# --- Which result folders (relative to results/<scale>) each input is made from, so that a claim
# whose runs were made by older code is marked stale (replication.staleness). An input not listed
# is its own folder (e.g. article/a1).
EVIDENCE_FOLDERS = {
    TABLE1_FILE: ("classify",),
    TABLE2_FILE: ("spirals",),
    "figure3a.csv": ("figure3", "classify/odenet"),  # the sweep re-solves the trained ODE-Net
    "figure3b.csv": ("figure3", "classify/odenet"),
    SWEEP_FILE: ("figure3", "classify/odenet"),
    FIGURE3C_FILE: ("classify/odenet",),
    "figure3d.csv": ("classify/odenet",),
    MEMORY_FITS_FILE: ("memory_depth",),
    MEMORY_POINTS_FILE: ("memory_depth",),
    VAE_TABLE_FILE: ("vae",),
    FFJORD_NFE_DIM_FILE: ("ffjord/nfe_vs_dim",),
    TRACE_COST_FITS_FILE: ("ffjord/trace_cost",),
    TRACE_COST_POINTS_FILE: ("ffjord/trace_cost",),
    TOY_DENSITY_FILE: ("ffjord/toy",),
}

# A constant predictor's MNIST test error: it always answers the most frequent test class, '1'
# (1,135 of the 10,000 test images), so it errs on 88.65 %. A model that does not beat it has not
# learned, and a claim comparing such models decides nothing.
MNIST_CONSTANT_PREDICTOR_ERROR = 88.65
