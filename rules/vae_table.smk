# FFJORD's VAE table: one VAE per (dataset, flow, seed), then the table.
VAE_TABLE = experiment("vae_table")
VAE_TABLE_SETTINGS = settings(VAE_TABLE.section)


wildcard_constraints:
    dataset="[a-z0-9_]+",
    flow="[a-z0-9_]+",


rule train_vae:
    """Train and evaluate one VAE (replication/experiments/vae_table/run.py)."""
    input:
        lambda w: dataset_files(w.dataset),
    output:
        **job_outputs(VAE_TABLE, "vae/{dataset}/{flow}/seed{seed}", "history.csv"),
    log:
        f"{LOGS}/vae/{{dataset}}-{{flow}}-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: VAE_TABLE_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("train_vae"),
        gpu=gpus(VAE_TABLE_SETTINGS["device"]),
    params:
        **job_params(VAE_TABLE, "vae/{dataset}/{flow}/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule vae_table:
    """Rows = flows, columns = datasets, the paper's numbers beside ours (never retrains)."""
    input:
        table_inputs(VAE_TABLE),
    output:
        table_outputs(VAE_TABLE),
    log:
        f"{LOGS}/vae_table.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("vae_table"),
    params:
        experiment=VAE_TABLE.name,
        spec=json.dumps(VAE_TABLE.collect_spec(config), sort_keys=True),
        code=VAE_TABLE.fingerprint_of(VAE_TABLE.collect),
        scale=SCALE,
    shell:
        "python -m replication collect {params.experiment:q} {input:q} --spec {params.spec:q}"
        " --scale {params.scale:q} > {log:q} 2>&1"
