"""FFJORD §3.1: Hutchinson's trace estimator vs the exact trace, in cost and variance, against D.

One job (:mod:`.run`): seconds per evaluation of f, f + Hutchinson and f + exact trace of a
random MLP for each D, and the estimator's analytic and sampled variance; :mod:`.plot` fits
log-log slopes against a FLOP model.
"""
from replication.experiments.base import declare, section_spec

EXPERIMENT = declare(
    __name__,
    name="trace_cost",
    title="Hutchinson vs exact trace: cost and variance against the dimension",
    section="trace_cost",
    jobs=lambda config: [section_spec(config, "trace_cost")],
    job_dir=lambda spec: "ffjord/trace_cost",
    code=lambda spec: (),
    figure=f"{__name__}.plot",
    figure_inputs=lambda config: ["ffjord/trace_cost/points.csv"],
    figures=tuple(f"ffjord_trace_cost{s}" for s in (".png", ".pdf", ".csv", "_fits.csv")),
)
