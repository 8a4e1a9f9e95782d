# FFJORD Figure 5: one FFJORD VAE per latent size D, counting NFE per batch; table; figure.
NFE_VS_DIM = experiment("nfe_vs_dim")
NFE_VS_DIM_SETTINGS = settings(NFE_VS_DIM.section)


wildcard_constraints:
    latent_dim="[0-9]+",


rule ffjord_nfe:
    """Train one FFJORD VAE of latent size D on MNIST, recording its NFE per batch."""
    input:
        dataset_files(NFE_VS_DIM_SETTINGS["dataset"]),
    output:
        **job_outputs(NFE_VS_DIM, "ffjord/nfe_vs_dim/d{latent_dim}", "history.csv", "batches.csv"),
    log:
        f"{LOGS}/ffjord/nfe_vs_dim-d{{latent_dim}}.log",
    conda:
        CONDA_ENV
    threads: NFE_VS_DIM_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("ffjord_nfe"),
        gpu=gpus(NFE_VS_DIM_SETTINGS["device"]),
    params:
        **job_params(NFE_VS_DIM, "ffjord/nfe_vs_dim/d{latent_dim}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule nfe_vs_dim_table:
    """NFE per epoch of every latent size, in one table."""
    input:
        table_inputs(NFE_VS_DIM),
    output:
        table_outputs(NFE_VS_DIM),
    log:
        f"{LOGS}/ffjord/nfe_vs_dim_table.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("nfe_vs_dim_table"),
    params:
        experiment=NFE_VS_DIM.name,
        spec=json.dumps(NFE_VS_DIM.collect_spec(config), sort_keys=True),
        code=NFE_VS_DIM.fingerprint_of(NFE_VS_DIM.collect),
        scale=SCALE,
    shell:
        "python -m replication collect {params.experiment:q} {input:q} --spec {params.spec:q}"
        " --scale {params.scale:q} > {log:q} 2>&1"


rule nfe_vs_dim_figure:
    input:
        figure_inputs(NFE_VS_DIM),
    output:
        figure_outputs(NFE_VS_DIM),
    log:
        f"{LOGS}/figures/ffjord_nfe_vs_dim.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("nfe_vs_dim_figure"),
    params:
        experiment=NFE_VS_DIM.name,
        code=NFE_VS_DIM.fingerprint_of(NFE_VS_DIM.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"
