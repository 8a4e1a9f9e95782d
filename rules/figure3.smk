# Neural ODE Figure 3: the tolerance sweep on Table 1's trained ODE-Net, then the figure.
FIGURE3 = experiment("figure3")
(FIGURE3_SPEC,) = FIGURE3.jobs(config)
FIGURE3_THREADS = settings("classify")["threads"]  # it evaluates a Table 1 model


rule tolerance_sweep:
    """Solve the trained ODE-Net's block at each tolerance (no retraining)."""
    input:
        weights=f"{RESULTS}/{FIGURE3_SPEC['weights']}",
        data=dataset_files("mnist"),
    output:
        **job_outputs(FIGURE3, FIGURE3.job_dir(FIGURE3_SPEC), "tolerance_sweep.csv"),
    log:
        f"{LOGS}/figure3/tolerance_sweep.log",
    conda:
        CONDA_ENV
    threads: FIGURE3_THREADS
    resources:
        mem_mb=mem_mb("tolerance_sweep"),
        gpu=gpus(FIGURE3_SPEC["device"]),
    params:
        **job_params(FIGURE3, FIGURE3.job_dir(FIGURE3_SPEC)),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule figure3:
    """The four panels, from the sweep and the ODE-Net's per-batch NFE of training."""
    input:
        figure_inputs(FIGURE3),
    output:
        figure_outputs(FIGURE3),
    log:
        f"{LOGS}/figures/figure3.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("figure3"),
    params:
        experiment=FIGURE3.name,
        code=FIGURE3.fingerprint_of(FIGURE3.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"
