# FFJORD §3.1: Hutchinson vs exact trace, seconds per evaluation and variance against D.
TRACE_COST = experiment("trace_cost")
(TRACE_COST_SPEC,) = TRACE_COST.jobs(config)


rule trace_cost:
    """Time f, f + Hutchinson and f + exact trace for each D; the estimator's variance."""
    output:
        **job_outputs(TRACE_COST, TRACE_COST.job_dir(TRACE_COST_SPEC), "points.csv"),
    log:
        f"{LOGS}/ffjord/trace_cost.log",
    conda:
        CONDA_ENV
    threads: settings(TRACE_COST.section)["threads"]
    resources:
        mem_mb=mem_mb("trace_cost"),
        gpu=gpus(TRACE_COST_SPEC["device"]),
    params:
        **job_params(TRACE_COST, TRACE_COST.job_dir(TRACE_COST_SPEC)),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule trace_cost_figure:
    input:
        figure_inputs(TRACE_COST),
    output:
        figure_outputs(TRACE_COST),
    log:
        f"{LOGS}/figures/ffjord_trace_cost.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("trace_cost_figure"),
    params:
        experiment=TRACE_COST.name,
        code=TRACE_COST.fingerprint_of(TRACE_COST.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"
