# Neural ODE §3, constant memory: a training step's memory and time vs depth, then the figure.
MEMORY_DEPTH = experiment("memory_depth")
(MEMORY_DEPTH_SPEC,) = MEMORY_DEPTH.jobs(config)


rule memory_depth:
    """Peak memory and time of one training step for ResNet / RK-Net / adjoint at each depth."""
    output:
        **job_outputs(MEMORY_DEPTH, MEMORY_DEPTH.job_dir(MEMORY_DEPTH_SPEC), "points.csv"),
    log:
        f"{LOGS}/memory_depth.log",
    conda:
        CONDA_ENV
    threads: settings(MEMORY_DEPTH.section)["threads"]
    resources:
        mem_mb=mem_mb("memory_depth"),
        gpu=gpus(MEMORY_DEPTH_SPEC["device"]),
    params:
        **job_params(MEMORY_DEPTH, MEMORY_DEPTH.job_dir(MEMORY_DEPTH_SPEC)),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule memory_figure:
    """Memory and time against depth, with the fitted memory per step."""
    input:
        figure_inputs(MEMORY_DEPTH),
    output:
        figure_outputs(MEMORY_DEPTH),
    log:
        f"{LOGS}/figures/memory_depth.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("memory_figure"),
    params:
        experiment=MEMORY_DEPTH.name,
        code=MEMORY_DEPTH.fingerprint_of(MEMORY_DEPTH.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"
