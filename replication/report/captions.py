"""Every table and figure the report knows, with its title and caption: the one place to edit them.

Paths are relative to the results folder (tables) or the figures folder (figures) of a scale.
An expected table or figure that is missing is shown as a "not run" section; a table or figure
that is present but not listed here is still shown, with :data:`UNLISTED_CAPTION`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    path: str  # relative to results/<scale> (tables) or figures/<scale> (figures)
    title: str
    caption: str
    produced_by: str  # the rule or experiment that writes it, named when it is missing


TABLES = [
    Entry(
        "table1.md",
        "Neural ODE Table 1 (MNIST)",
        "Our classifiers beside Chen et al. (2018), Table 1. Test error at the epoch of lowest "
        "validation error; the paper's memory and time columns are asymptotic only.",
        "rule table1",
    ),
    Entry(
        "vae_table.md",
        "FFJORD VAE table (test −ELBO)",
        "Our VAEs beside Grathwohl et al. (2019), VAE table: negative ELBO on the test set, "
        "nats (Frey Faces in bits/dim), mean ± std over seeds; lower is better.",
        "rule vae_table",
    ),
]

# The article's experiments: their tables are every .md file under results/<scale>/article/<id>/.
ARTICLE_EXPERIMENTS = [
    Entry(
        "article/a1",
        "Article A1: the NumPy Neural ODE on MNIST",
        "The article's NumPy example implemented as described (20 Euler steps, hand-written "
        "adjoint, one epoch); it claims 92–93 % test accuracy.",
        "article experiment A1",
    ),
    Entry(
        "article/a2",
        "Article A2: Euler steps and step size at test time",
        "The trained A1 model evaluated at other n and dt without retraining.",
        "article experiment A2",
    ),
    Entry(
        "article/a3",
        "Article A3: the 'CNF' classifier snippet",
        "The article's CNF snippet as printed (9 Euler steps of an MLP, Adam, 5 epochs).",
        "article experiment A3",
    ),
    Entry(
        "article/a4",
        "Article A4: the 'FFJORD' classifier snippet",
        "The article's FFJORD snippet as printed (adjoint dopri5 with a Hutchinson trace term "
        "that the loss never uses).",
        "article experiment A4",
    ),
]

FIGURES = [
    Entry(
        "figure3.png",
        "Neural ODE Figure 3: statistics of a trained ODE-Net",
        "(a) NFE vs numerical error and (b) NFE vs forward time over a sweep of test-time "
        "solver tolerances on the trained ODE-Net; (c) NFE-B vs NFE-F per training batch of "
        "the adjoint run; (d) NFE-F per batch over training epochs.",
        "rules tolerance_sweep, figure3",
    ),
    Entry(
        "memory_depth.png",
        "Memory and time of a training step vs depth",
        "Peak memory and time of one training step (forward + backward) for the ResNet "
        "(L blocks), backpropagation through L rk4 steps (RK-Net) and the adjoint with the same "
        "L steps; each point a fresh model. The adjoint's flat memory line is the paper's "
        "constant-memory claim.",
        "rules memory_depth, memory_figure",
    ),
    Entry(
        "ffjord_nfe_vs_dim.png",
        "FFJORD Figure 5: NFE vs latent dimension",
        "NFE-F over training of VAEs with an FFJORD flow for latent D ∈ {16, 32, 48, 64} on "
        "MNIST (mean NFE per training batch in each epoch; left: the Hutchinson-trace forward "
        "solve, right: the adjoint's backward solve); the paper finds NFE rising and converging "
        "to about the same value for every D.",
        "rules ffjord_nfe, nfe_vs_dim_table, nfe_vs_dim_figure",
    ),
    Entry(
        "ffjord_toy_densities.png",
        "FFJORD Figure 2: learned densities of 2-D toy data",
        "Samples of each toy distribution beside the density of a CNF fitted to it with the exact "
        "trace (dopri5, learnable T); titles give the test log-likelihood and the mass of the "
        "model density over the plotted grid (≈ 1 for a normalized density).",
        "rules toy_density, toy_density_figure",
    ),
    Entry(
        "ffjord_trace_cost.png",
        "Hutchinson vs exact trace: cost and variance against the dimension",
        "Seconds per function evaluation of f alone, f with Hutchinson's one-vjp trace estimate "
        "and f with the exact D-vjp trace, for a random MLP of fixed hidden width, with fitted "
        "log-log slopes; and the estimator's variance (Gaussian and Rademacher noise, empirical "
        "and analytic) against D.",
        "rules trace_cost, trace_cost_figure",
    ),
]

UNLISTED_CAPTION = (
    "No caption registered for this figure (add one in replication/report/captions.py)."
)

VERDICT_LEGEND = {
    "reproduced": "the comparison holds at a scale where the claim can be judged, on results "
    "of the current code",
    "consistent, inconclusive at this scale": "the comparison holds, but at a scale too small "
    "to judge the claim (e.g. 2 of 160 epochs): counted apart from 'reproduced'",
    "not reproduced": "it fails at a scale where the claim can be judged",
    "inconclusive": "it fails at a scale too small to judge it, or the results decide neither "
    "way (e.g. a precondition such as 'training happened' failed), or they are stale (made by "
    "older code; the reason lists them)",
    "documented fact": "a textual claim its cited source confirms: two documents agree, "
    "nothing was reproduced",
    "not run": "the experiment behind it has not produced its results (the reason names the file)",
}

TEXTUAL_NOTE = (
    'Textual claims (comparison "= … (textual)") check a document against the document it '
    "cites and need no run: 'documented fact' means the cited source prints the same, 'not "
    "reproduced' that the source itself contradicts the claim. A claim that repeats another's "
    "measurement (its details name it) is shown but counted once."
)
