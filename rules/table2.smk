# Neural ODE Table 2: one latent ODE or RNN per (model, n, seed) on spirals; table; Figure 8.
TABLE2 = experiment("table2")
TABLE2_SETTINGS = settings(TABLE2.section)


wildcard_constraints:
    rnn_model="rnn|rnn_dt",
    n_observed="[0-9]+",


rule table2_latent_ode:
    """Train one latent ODE on spirals with n observed points; its test RMSE (run.py)."""
    output:
        **job_outputs(
            TABLE2,
            "spirals/latent_ode/n{n_observed}/seed{seed}",
            "history.csv",
            "predictions.csv",
            "latent.csv",
            "model.pt",
        ),
    log:
        f"{LOGS}/spirals/latent_ode-n{{n_observed}}-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: TABLE2_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("table2_latent_ode"),
        gpu=gpus(TABLE2_SETTINGS["device"]),
    params:
        **job_params(TABLE2, "spirals/latent_ode/n{n_observed}/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule table2_rnn:
    """Train one RNN (plain, or with Δt) on spirals with n observed points; its test RMSE."""
    output:
        **job_outputs(
            TABLE2,
            "spirals/{rnn_model}/n{n_observed}/seed{seed}",
            "history.csv",
            "predictions.csv",
            "model.pt",
        ),
    log:
        f"{LOGS}/spirals/{{rnn_model}}-n{{n_observed}}-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: TABLE2_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("table2_rnn"),
        gpu=gpus(TABLE2_SETTINGS["device"]),
    params:
        **job_params(TABLE2, "spirals/{rnn_model}/n{n_observed}/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule table2_table:
    """Table 2: every model and n, ours beside the paper's (never retrains)."""
    input:
        table_inputs(TABLE2),
    output:
        table_outputs(TABLE2),
    log:
        f"{LOGS}/table2.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("table2_table"),
    params:
        experiment=TABLE2.name,
        spec=json.dumps(TABLE2.collect_spec(config), sort_keys=True),
        code=TABLE2.fingerprint_of(TABLE2.collect),
        scale=SCALE,
    shell:
        "python -m replication collect {params.experiment:q} {input:q} --spec {params.spec:q}"
        " --scale {params.scale:q} > {log:q} 2>&1"


rule table2_figure:
    """Figure 8: reconstructions and extrapolations at n = 30, and the latent trajectories."""
    input:
        figure_inputs(TABLE2),
    output:
        figure_outputs(TABLE2),
    log:
        f"{LOGS}/figures/table2_figure8.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("table2_figure"),
    params:
        experiment=TABLE2.name,
        code=TABLE2.fingerprint_of(TABLE2.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"


rule table2:
    """`snakemake table2`: Table 2 and Figure 8 of this scale."""
    input:
        table_outputs(TABLE2),
        figure_outputs(TABLE2),
